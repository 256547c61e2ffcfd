"""carolbatch/settings"""
