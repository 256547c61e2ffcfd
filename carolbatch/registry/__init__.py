"""carolbatch/registry"""
