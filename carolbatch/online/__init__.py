"""carolbatch/online"""
