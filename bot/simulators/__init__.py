"""Local stand-ins for LINE, LIFF, MOF and Backme that speak the real protocols and record
what they receive; used by the tests and by sandbox mode."""
