"""carolbatch/records"""
