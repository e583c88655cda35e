"""The Bulk Read protocol and its files, no singer-sdk: job bodies, jobs, zips, CSV and ICS."""
