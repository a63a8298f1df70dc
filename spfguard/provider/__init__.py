"""DNS provider plugins: the contract (:mod:`.base`) and the entry-point registry (:mod:`.registry`)."""
