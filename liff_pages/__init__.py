"""The LIFF pages (manual entry, mobile-barcode carrier; SPEC §6) and the JSON endpoints they
call. Not built yet: it is the next milestone. The invoice card and the upload buttons already
link to `/liff/manual?campaign=…` and `/liff/carrier?campaign=…` (or the channel's LIFF URLs),
and the shared intake they will call is `bot.chat.intake.register`."""
