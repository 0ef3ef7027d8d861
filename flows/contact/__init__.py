"""How we reach a participant: the phone numbers people give us, in one canonical form."""
