/*
 * In-place reencryption of an open node (qemu-img reencrypt and the
 * daemon's x-blockdev-reencrypt job).  Generic code calls these; the
 * format driver does the work through its BlockDriver reencryption
 * callbacks (luks: block/crypto-reencrypt.c over include/crypto/reencrypt.h).
 *
 * Online use: the node may serve other requests from other threads while
 * a step runs; requests that touch the hotzone wait for the step, the
 * others go on, and no request ever sees data of the wrong key.
 */
#ifndef BLOCK_REENCRYPT_H
#define BLOCK_REENCRYPT_H

#include "block/block.h"
#include "qapi/qapi-types-crypto.h"

typedef struct BlockReencrypt BlockReencrypt;

/*
 * Begin or resume a reencryption of node bs (opened read-write, with its
 * key-secret): decrypt or re-key as opts says, or continue the one its
 * header records (recovering an interrupted hotzone first).  opts may be
 * NULL (resume, or re-key when nothing is recorded).
 */
BlockReencrypt *bdrv_reencrypt_begin(BlockDriverState *bs,
                                     QCryptoBlockReencryptOptions *opts,
                                     GError **errp);

/*
 * Start encrypting the plaintext node `payload` in place: write a new
 * detached header to node `header` (opts: the luks creation options and
 * key-secret), then open the encrypted node over the two (returned in
 * *out, node name node_name or none) and its reencryption context.
 */
BlockReencrypt *bdrv_reencrypt_begin_encrypt(BlockDriverState *payload,
                                             BlockDriverState *header,
                                             QCryptoBlockReencryptOptions *opts,
                                             const char *node_name,
                                             BlockDriverState **out,
                                             GError **errp);

/* One hotzone: 1 more to do, 0 done and the final header written, -1. */
int bdrv_reencrypt_step(BlockReencrypt *r, GError **errp);

/* Bytes of data done and in all. */
void bdrv_reencrypt_progress(BlockReencrypt *r, uint64_t *done,
                             uint64_t *total);

/* End the context (after the last step, or to stop: stays resumable). */
void bdrv_reencrypt_end(BlockReencrypt *r);

#endif
