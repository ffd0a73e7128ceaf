/* Random bytes from the kernel CSPRNG (getrandom(2), blocking until seeded). */
#include <errno.h>
#include <sys/random.h>
#include "qemu/error.h"
#include "crypto/random.h"

int qcrypto_random_bytes(void *buf, size_t len, GError **errp)
{
    guint8 *p = buf;

    while (len > 0) {
        ssize_t got = getrandom(p, len, 0);

        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            error_setg_errno(errp, errno, "Unable to read random bytes");
            return -1;
        }
        /* Large requests may be satisfied in pieces. */
        p += got;
        len -= (size_t)got;
    }
    return 0;
}
