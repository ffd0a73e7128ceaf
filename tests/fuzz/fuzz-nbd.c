/*
 * libFuzzer target: NBD client input (handshake options and transmission
 * requests).  The server only talks to accepted sockets, so this target
 * runs the real server on a private Unix socket (fuzz-socket.h) with a
 * 1 MiB writable memory export "fz" and a read-only one named "" (512-byte
 * blocks), both with block status; each input is one client's bytes.  A server that never hangs up
 * after the client's EOF is a timeout finding.
 */
#include "fuzz-socket.h"
#include "nbd/nbd.h"

#define EXPORT_SIZE (1024 * 1024)

static guint8 export_data[EXPORT_SIZE];
static GMutex export_lock;

static int mem_pread(void *opaque, int64_t offset, int64_t bytes, void *buf)
{
    g_assert(offset >= 0 && bytes >= 0 && offset + bytes <= EXPORT_SIZE);
    g_mutex_lock(&export_lock);
    memcpy(buf, export_data + offset, bytes);
    g_mutex_unlock(&export_lock);
    return 0;
}

static int mem_pwrite(void *opaque, int64_t offset, int64_t bytes,
                      const void *buf, bool fua)
{
    g_assert(offset >= 0 && bytes >= 0 && offset + bytes <= EXPORT_SIZE);
    g_mutex_lock(&export_lock);
    memcpy(export_data + offset, buf, bytes);
    g_mutex_unlock(&export_lock);
    return 0;
}

static int mem_flush(void *opaque)
{
    return 0;
}

static int mem_trim(void *opaque, int64_t offset, int64_t bytes)
{
    g_assert(offset >= 0 && bytes >= 0 && offset + bytes <= EXPORT_SIZE);
    return 0;
}

static int64_t mem_length(void *opaque)
{
    return EXPORT_SIZE;
}

/* 64 KiB blocks: all-zero ones are reported as zero holes, so structured
 * READs are split and BLOCK_STATUS has several extents. */
static int mem_block_status(void *opaque, int64_t offset, int64_t bytes,
                            int64_t *pnum)
{
    int64_t end = MIN(offset + bytes, (offset / 65536 + 1) * 65536);
    bool zero = true;

    g_assert(offset >= 0 && bytes > 0 && offset + bytes <= EXPORT_SIZE);
    g_mutex_lock(&export_lock);
    for (int64_t i = offset; i < end && zero; i++) {
        zero = export_data[i] == 0;
    }
    g_mutex_unlock(&export_lock);
    *pnum = end - offset;
    return zero ? NBD_EXTENT_ZERO | NBD_EXTENT_ALLOCATED
                : NBD_EXTENT_DATA | NBD_EXTENT_ALLOCATED;
}

static const NBDExportOps mem_ops = {
    .pread = mem_pread, .pwrite = mem_pwrite, .flush = mem_flush,
    .trim = mem_trim, .get_length = mem_length,
    .block_status = mem_block_status,
};

static void nbd_setup(int fd)
{
    NBDServer *srv = nbd_server_new(fd, 0);
    g_assert(nbd_export_add(srv, "fz", "fuzz export", &mem_ops, NULL, true,
                            1, NULL));
    g_assert(nbd_export_add(srv, "", NULL, &mem_ops, NULL, false, 512,
                            NULL));
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
