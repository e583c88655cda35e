"""What the tap writes: RECORD lines and BATCH files."""
