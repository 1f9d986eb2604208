/* The least a gpgme-based verification costs, for bench/refresh.sh: what
 * rootmirror's SignatureVerifier asks of gpgme (gpg named, gpgconf off,
 * offline, 64 KiB pumping, the key and gpg.conf already in the private
 * home GNUPGHOME points at), with nothing else around it: no Swift runtime,
 * no argument parsing, no zone. Its time against gpgv's is what choosing
 * gpgme costs by itself: a `gpg --version` probe, the full gpg instead of
 * gpgv, two double forks and the pumping through a pipe.
 *
 * usage: GNUPGHOME=DIR gpgme-verify SIG FILE   (exit 0: good signature)
 */
#include <fcntl.h>
#include <gpgme.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: gpgme-verify SIG FILE\n");
        return 2;
    }
    gpgme_set_global_flag("disable-gpgconf", "1");
    gpgme_set_global_flag("gpg-name", "/usr/bin/gpg");
    gpgme_check_version(NULL);
    if (gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP) != 0) return 2;
    gpgme_ctx_t ctx;
    gpgme_data_t sig, data;
    if (gpgme_new(&ctx) != 0) return 2;
    gpgme_set_offline(ctx, 1);
    int sigfd = open(argv[1], O_RDONLY | O_CLOEXEC), datafd = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (sigfd < 0 || datafd < 0) return 2;
    if (gpgme_data_new_from_fd(&sig, sigfd) != 0 || gpgme_data_new_from_fd(&data, datafd) != 0) return 2;
    gpgme_data_set_flag(data, "io-buffer-size", "65536");
    gpgme_error_t err = gpgme_op_verify(ctx, sig, data, NULL);
    gpgme_verify_result_t result = gpgme_op_verify_result(ctx);
    int good = err == 0 && result != NULL && result->signatures != NULL
        && gpgme_err_code(result->signatures->status) == GPG_ERR_NO_ERROR;
    return good ? 0 : 1;
}
