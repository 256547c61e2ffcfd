"""carolbatch/training"""
