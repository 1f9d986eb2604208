/// The key internic signs the root zone with, pinned: `refresh` trusts a
/// download only if it carries a good signature by exactly this key.
///
/// It is compiled in, so that the installed binary needs no data files and a
/// cron job cannot be pointed at another key by a stray file; `--keyring`
/// swaps it out deliberately. The text is `zones/internic-registry-admin.asc`
/// byte for byte (a test compares them): "Registry Administrator
/// <nstld@verisign-grs.com>", DSA-1024, signing with SHA-1, no expiry.
public enum InternicKey {
    /// The primary key's v4 fingerprint, upper-case hex without spaces, as
    /// gpgme reports it.
    public static let fingerprint = "F0CB1A326BDF3F3EFA3A01FA937BB869E3A238C5"

    /// Ends with a newline, as the file does.
    public static let armored = """
        -----BEGIN PGP PUBLIC KEY BLOCK-----

        mQGiBFafqDIRBACHHOCeRBfQePebenPDNbMyI65Jv2v7a+hcw99EkYsdnlx7+HM2
        vEsmGxqPLGBwxwUGUtpjGH4389OtKSyjhVVM0xmXZDoisEnqPPYdfIlYK6LzbcDF
        us9guMK3F9X0E4orOcs1f2eKnEvzujAgWgN2SdktFjRm4r/I26nQOFjc3wCg2ny2
        ohDoWphSw/9hFK/nxM/gChcD/jAAkH/9vc48ePBVQaTxIaZEBa6qu5TQK9vknPJn
        GrRIQAnnhL3Zlf8/FAc5LLs6r33NXJsV/exDiVRisE8y7wT5eoUAwQkm7GUuSx1d
        9u9hCrF7BHhykH7hpvRes5DviCO6E0qoCWR59TKoEeglqTY5DA5u5Qzhcr6VZy64
        iodGA/49sZnCbQP2lTa/3IwnDTGdNnsn+kaCfLqaVMEfkmfc2MyFVgeMxfdTJoMf
        FgT5p2hazhYquJOfnkg5kXkoOsPf89OwkJ8bdkRC4pB4rekMWma/IEs9rfqup2hH
        ByvlqRWIsLcFnqLRzT/jrl3SRBYeI2gQqggKnw59jJmyK4KJ6rQvUmVnaXN0cnkg
        QWRtaW5pc3RyYXRvciA8bnN0bGRAdmVyaXNpZ24tZ3JzLmNvbT6IYAQTEQIAIAIb
        AwYLCQgHAwIEFQIIAwQWAgMBAh4BAheABQJi/UgIAAoJEJN7uGnjojjFHlkAoL7v
        FlB2s5WzI6WDXYZn0lUtR04PAJ0YLostb/cnxd315zTMaCIPM6qR8YhgBBMRAgAg
        AhsDBgsJCAcDAgQVAggDBBYCAwECHgECF4AFAmL9QzsACgkQk3u4aeOiOMWqagCg
        gmQOps/OhDQh2hN/D8xexmqaOTcAn2sMMTNBOG9yIW/vRDMjpzwcZqS+iGYEExEC
        ACYCGwMGCwkIBwMCBBUCCAMEFgIDAQIeAQIXgAUCYpdmaAUJEAFWNgAKCRCTe7hp
        46I4xR22AJsF5MlveDyojK6PpktE6aJqq5OKuwCdHrjdap/SKu5nyS+t0zTFVUuJ
        E8qIZgQTEQIAJgIbAwYLCQgHAwIEFQIIAwQWAgMBAh4BAheABQJe3lMjBQkMQvzx
        AAoJEJN7uGnjojjF+C8An36ZFLJEv1+Isg12aWXjX6DFksNfAJ9RiSp4SwMN4xmE
        1azYOyApY6JUlIhmBBMRAgAmAhsDBgsJCAcDAgQVAggDBBYCAwECHgECF4AFAltg
        au0FCQiDKbsACgkQk3u4aeOiOMXcogCgwMo2V3wWKeZjxsOqP0oq7gcdFIsAoNUo
        hJ9XmL/UIzK1TQFlWUi6h28ziGYEExECACYCGwMGCwkIBwMCBBUCCAMEFgIDAQIe
        AQIXgAUCWr6XwwUJBQw9kQAKCRCTe7hp46I4xQbrAJ9tIP9TCU8+nALa7Lmb1Wzc
        LnjUnwCfeAp9stkJeizdh9cFPi/f+mlBoUSIZgQTEQIAJgUCVp+oMgIbAwUJBB6w
        AAYLCQgHAwIEFQIIAwQWAgMBAh4BAheAAAoJEJN7uGnjojjF0S0AnArmleQRcXSy
        mG0ObfIQZXqtRtfrAKCWQhSrUgsff64h7X9uvSkD/E1mrg==
        =2blL
        -----END PGP PUBLIC KEY BLOCK-----

        """
}
