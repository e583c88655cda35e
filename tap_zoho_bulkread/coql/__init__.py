"""Small changes read through Zoho's Query API (COQL) instead of a bulk read job."""
