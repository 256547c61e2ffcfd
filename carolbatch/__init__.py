"""carolbatch"""
