/*
 * libFuzzer target: NBD client input (handshake options and transmission
 * requests).  The server only talks to accepted sockets, so this target
 * runs the real server on a private Unix socket (fuzz-socket.h) with a
 * 1 MiB writable memory export "fz" and a read-only one named "" (512-byte
 * blocks), both on the NBD tests' in-memory disk (tests/unit/test-nbd-disk.h)
 * with block status; each input is one client's bytes.  A server that never
 * hangs up after the client's EOF is a timeout finding.
 */
#include "fuzz-socket.h"
#include "nbd/nbd.h"
#include "../unit/test-nbd-disk.h"

#define EXPORT_SIZE (1024 * 1024)

static TestMemDisk disk;

static void nbd_setup(int fd)
{
    NBDServer *srv = nbd_server_new(fd, 0);

    test_mem_disk_init(&disk, EXPORT_SIZE);
    g_assert(nbd_export_add(srv, "fz", "fuzz export",
                            &test_mem_disk_status_ops, &disk, true, 1, NULL));
    g_assert(nbd_export_add(srv, "", NULL, &test_mem_disk_status_ops, &disk,
                            false, 512, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        fuzz_server_start(nbd_setup);
        init = true;
    }
    if (size > 256 * 1024) {
        return 0;
    }
    fuzz_talk(data, size);
    return 0;
}
