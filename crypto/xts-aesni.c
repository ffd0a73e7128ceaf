/*
 * AES-XTS (128- and 256-bit AES) over AES-NI, and over VAES with AVX-512
 * where the CPU has them, many sectors per call.
 *
 * Why this file exists: the libraries Debian 12 packages take one call per
 * tweak (GnuTLS 3.7 set_iv + encrypt2, OpenSSL 3.0 EVP init + update),
 * Nettle's xts_*_message runs one block per call and libipsec-mb has no
 * XTS mode.  At 512-byte sectors the per-call cost left us at 0.6x of
 * GnuTLS's one-call speed (docs/devel/performance.rst has the survey
 * figures).  Here the tweaks of four sectors are encrypted together and
 * each sector keeps 32 blocks (VAES) or 8 blocks (AES-NI) in flight.
 *
 * Constant time: the AES rounds are the AES instructions and the tweak
 * doubling is shifts, masks and a carry-less multiply by the constant 0x87.
 * There is no table lookup, and no branch or address depends on the key or
 * the data, only on lengths, sector numbers and the direction (public).
 *
 * The key schedules (also the ones broadcast to 512-bit lanes) live in the
 * object, which is locked memory (qemu_secmem) wiped when it is freed.
 * cipher.c asks qcrypto_cipher_xts_x86_usable() first: on a CPU without
 * AES-NI (or another architecture) GnuTLS serves XTS as before.
 */
#include <string.h>
#include "qemu/error.h"
#include "qemu/secmem.h"
#include "crypto/cipherpriv.h"

bool qcrypto_cipher_xts_x86_supports(QCryptoCipherAlgo alg,
                                     QCryptoCipherMode mode)
{
    return mode == QCRYPTO_CIPHER_MODE_XTS &&
           (alg == QCRYPTO_CIPHER_ALGO_AES_128 ||
            alg == QCRYPTO_CIPHER_ALGO_AES_256);
}

#if defined(__x86_64__) && defined(__GNUC__)

#include <cpuid.h>
#include <immintrin.h>

#define AESNI_FN __attribute__((target("aes,sse4.1")))
#define VAES_FN __attribute__((target("aes,avx2,avx512f,avx512bw,avx512vl," \
                                      "vaes,vpclmulqdq")))
#define MAX_ROUNDS 14

typedef struct QCryptoCipherXts {
    QCryptoCipher base;
    bool vaes;
    int rounds;
    guint8 iv[16];
    __m128i enc[MAX_ROUNDS + 1];     /* data key, encryption */
    __m128i dec[MAX_ROUNDS + 1];     /* data key, equivalent inverse */
    __m128i twk[MAX_ROUNDS + 1];     /* tweak key, encryption */
    /* VAES only: the same round keys in all four 128-bit lanes */
    __m512i enc4[MAX_ROUNDS + 1];
    __m512i dec4[MAX_ROUNDS + 1];
    __m512i twk4[MAX_ROUNDS + 1];
} QCryptoCipherXts;

/*
 * VAES and VPCLMULQDQ from cpuid leaf 7 (ECX bits 9 and 10): clang 14's
 * __builtin_cpu_supports knows neither name.
 */
static bool cpu_has_vaes_vpclmulqdq(void)
{
    unsigned int a, b, c, d;

    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        return false;
    }
    return (c & (1u << 9)) && (c & (1u << 10));
}

bool qcrypto_cipher_xts_x86_usable(bool vaes)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("sse4.1")) {
        return false;
    }
    /* libgcc also checks that the OS saves the zmm state (XCR0). */
    return !vaes || (__builtin_cpu_supports("avx512f") &&
                     __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") &&
                     cpu_has_vaes_vpclmulqdq());
}

/* ---- key schedule (FIPS 197 expansion through AESKEYGENASSIST) ---- */

/* w0 ^= 0; w1 ^= w0; w2 ^= w0 ^ w1; w3 ^= w0 ^ w1 ^ w2 */
AESNI_FN static __m128i kexp_mix(__m128i k)
{
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, _mm_slli_si128(k, 4));
}

/* The rcon argument of AESKEYGENASSIST must be a literal, hence macros. */
#define KEXP_ROT(prev, src, rcon) \
    _mm_xor_si128(kexp_mix(prev), \
                  _mm_shuffle_epi32(_mm_aeskeygenassist_si128(src, rcon), 0xff))
/* AES-256 odd round keys: SubWord without RotWord or rcon. */
#define KEXP_SUB(prev, src) \
    _mm_xor_si128(kexp_mix(prev), \
                  _mm_shuffle_epi32(_mm_aeskeygenassist_si128(src, 0), 0xaa))

AESNI_FN static void expand128(__m128i *rk, const guint8 *key)
{
    rk[0] = _mm_loadu_si128((const __m128i *)key);
    rk[1] = KEXP_ROT(rk[0], rk[0], 0x01);
    rk[2] = KEXP_ROT(rk[1], rk[1], 0x02);
    rk[3] = KEXP_ROT(rk[2], rk[2], 0x04);
    rk[4] = KEXP_ROT(rk[3], rk[3], 0x08);
    rk[5] = KEXP_ROT(rk[4], rk[4], 0x10);
    rk[6] = KEXP_ROT(rk[5], rk[5], 0x20);
    rk[7] = KEXP_ROT(rk[6], rk[6], 0x40);
    rk[8] = KEXP_ROT(rk[7], rk[7], 0x80);
    rk[9] = KEXP_ROT(rk[8], rk[8], 0x1b);
    rk[10] = KEXP_ROT(rk[9], rk[9], 0x36);
}

AESNI_FN static void expand256(__m128i *rk, const guint8 *key)
{
    rk[0] = _mm_loadu_si128((const __m128i *)key);
    rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
    rk[2] = KEXP_ROT(rk[0], rk[1], 0x01);
    rk[3] = KEXP_SUB(rk[1], rk[2]);
    rk[4] = KEXP_ROT(rk[2], rk[3], 0x02);
    rk[5] = KEXP_SUB(rk[3], rk[4]);
    rk[6] = KEXP_ROT(rk[4], rk[5], 0x04);
    rk[7] = KEXP_SUB(rk[5], rk[6]);
    rk[8] = KEXP_ROT(rk[6], rk[7], 0x08);
    rk[9] = KEXP_SUB(rk[7], rk[8]);
    rk[10] = KEXP_ROT(rk[8], rk[9], 0x10);
    rk[11] = KEXP_SUB(rk[9], rk[10]);
    rk[12] = KEXP_ROT(rk[10], rk[11], 0x20);
    rk[13] = KEXP_SUB(rk[11], rk[12]);
    rk[14] = KEXP_ROT(rk[12], rk[13], 0x40);
}

/* Round keys for AESDEC: reversed, the middle ones through InvMixColumns. */
AESNI_FN static void invert_schedule(__m128i *dec, const __m128i *enc,
                                     int rounds)
{
    dec[0] = enc[rounds];
    for (int r = 1; r < rounds; r++) {
        dec[r] = _mm_aesimc_si128(enc[rounds - r]);
    }
    dec[rounds] = enc[0];
}

VAES_FN static void broadcast_schedules(QCryptoCipherXts *c)
{
    for (int r = 0; r <= c->rounds; r++) {
        c->enc4[r] = _mm512_broadcast_i32x4(c->enc[r]);
        c->dec4[r] = _mm512_broadcast_i32x4(c->dec[r]);
        c->twk4[r] = _mm512_broadcast_i32x4(c->twk[r]);
    }
}

/* ---- AES-NI: 8 blocks in flight ---- */

/* Multiply a tweak by x in GF(2^128) (IEEE 1619 little-endian order). */
static inline __m128i mul_x(__m128i t)
{
    /* sign masks of bit 127 (into dword 0) and bit 63 (into dword 2) */
    __m128i c = _mm_srai_epi32(_mm_shuffle_epi32(t, 0x13), 31);

    c = _mm_and_si128(c, _mm_set_epi32(0, 1, 0, 0x87));
    return _mm_xor_si128(_mm_add_epi64(t, t), c);
}

AESNI_FN static __m128i aes_enc1(const __m128i *rk, int rounds, __m128i b)
{
    b = _mm_xor_si128(b, rk[0]);
    for (int r = 1; r < rounds; r++) {
        b = _mm_aesenc_si128(b, rk[r]);
    }
    return _mm_aesenclast_si128(b, rk[rounds]);
}

/* n (1..8) blocks: in ^ tweak, AES, ^ tweak. */
AESNI_FN static inline __attribute__((always_inline))
void blocks_aesni(const __m128i *rk, int rounds, bool enc, const __m128i *tw,
                  int n, const guint8 *in, guint8 *out)
{
    __m128i b[8];
    int j, r;

#pragma GCC unroll 8
    for (j = 0; j < n; j++) {
        b[j] = _mm_loadu_si128((const __m128i *)(in + 16 * j));
        b[j] = _mm_xor_si128(_mm_xor_si128(b[j], tw[j]), rk[0]);
    }
    for (r = 1; r < rounds; r++) {
#pragma GCC unroll 8
        for (j = 0; j < n; j++) {
            b[j] = enc ? _mm_aesenc_si128(b[j], rk[r]) :
                         _mm_aesdec_si128(b[j], rk[r]);
        }
    }
#pragma GCC unroll 8
    for (j = 0; j < n; j++) {
        b[j] = enc ? _mm_aesenclast_si128(b[j], rk[rounds]) :
                     _mm_aesdeclast_si128(b[j], rk[rounds]);
        _mm_storeu_si128((__m128i *)(out + 16 * j),
                         _mm_xor_si128(b[j], tw[j]));
    }
}

/* One data unit of len bytes (a multiple of 16) whose first tweak is t. */
AESNI_FN static inline __attribute__((always_inline))
void unit_aesni(const QCryptoCipherXts *c, bool enc, __m128i t,
                const guint8 *in, guint8 *out, size_t len)
{
    const __m128i *rk = enc ? c->enc : c->dec;
    __m128i tw[8];
    int j;

    for (; len >= 128; len -= 128, in += 128, out += 128) {
#pragma GCC unroll 8
        for (j = 0; j < 8; j++) {
            tw[j] = t;
            t = mul_x(t);
        }
        blocks_aesni(rk, c->rounds, enc, tw, 8, in, out);
    }
    for (; len > 0; len -= 16, in += 16, out += 16) {
        blocks_aesni(rk, c->rounds, enc, &t, 1, in, out);
        t = mul_x(t);
    }
}

/* ---- VAES: four blocks per 512-bit register, 8 registers in flight ---- */

/*
 * Multiply each 128-bit lane by x^k (k a literal, 1..56): shift left by k,
 * carry the low half's top bits into the high half, and fold the bits
 * shifted out of bit 127 back in as (bits * 0x87), carry-less.
 */
#define MUL_XK512(t, k) ({ \
    __m512i top_ = _mm512_srli_epi64((t), 64 - (k)); \
    _mm512_xor_si512(_mm512_xor_si512(_mm512_slli_epi64((t), (k)), \
                                      _mm512_bslli_epi128(top_, 8)), \
                     _mm512_clmulepi64_epi128(top_, \
                                              _mm512_set1_epi64(0x87), \
                                              0x01)); })

/* Register of four blocks: in ^ tweak, AES, ^ tweak. */
VAES_FN static inline __attribute__((always_inline))
__m512i aes4(const __m512i *rk, int rounds, bool enc, __m512i t, __m512i b)
{
    b = _mm512_xor_si512(_mm512_xor_si512(b, t), rk[0]);
    for (int r = 1; r < rounds; r++) {
        b = enc ? _mm512_aesenc_epi128(b, rk[r]) :
                  _mm512_aesdec_epi128(b, rk[r]);
    }
    b = enc ? _mm512_aesenclast_epi128(b, rk[rounds]) :
              _mm512_aesdeclast_epi128(b, rk[rounds]);
    return _mm512_xor_si512(b, t);
}

/* 32 blocks with tweaks T[0..7]; the tweaks then advance by x^32. */
VAES_FN static inline __attribute__((always_inline))
void blocks32_vaes(const __m512i *rk, int rounds, bool enc, __m512i *T,
                   const guint8 *in, guint8 *out)
{
    __m512i b[8];
    int j, r;

#pragma GCC unroll 8
    for (j = 0; j < 8; j++) {
        b[j] = _mm512_loadu_si512(in + 64 * j);
        b[j] = _mm512_xor_si512(_mm512_xor_si512(b[j], T[j]), rk[0]);
    }
    for (r = 1; r < rounds; r++) {
#pragma GCC unroll 8
        for (j = 0; j < 8; j++) {
            b[j] = enc ? _mm512_aesenc_epi128(b[j], rk[r]) :
                         _mm512_aesdec_epi128(b[j], rk[r]);
        }
    }
#pragma GCC unroll 8
    for (j = 0; j < 8; j++) {
        b[j] = enc ? _mm512_aesenclast_epi128(b[j], rk[rounds]) :
                     _mm512_aesdeclast_epi128(b[j], rk[rounds]);
        _mm512_storeu_si512(out + 64 * j, _mm512_xor_si512(b[j], T[j]));
        T[j] = MUL_XK512(T[j], 32);
    }
}

VAES_FN static inline __attribute__((always_inline))
void unit_vaes(const QCryptoCipherXts *c, bool enc, __m128i t,
               const guint8 *in, guint8 *out, size_t len)
{
    const __m512i *rk = enc ? c->enc4 : c->dec4;
    /* lane i: t * x^i, each from t directly (vpsrlvq gives 0 for i = 0) */
    const __m512i k = _mm512_set_epi64(3, 3, 2, 2, 1, 1, 0, 0);
    __m512i t4 = _mm512_broadcast_i32x4(t), T[8], b;
    __m512i top = _mm512_srlv_epi64(t4, _mm512_sub_epi64(
                                        _mm512_set1_epi64(64), k));
    int j;

    T[0] = _mm512_xor_si512(_mm512_xor_si512(_mm512_sllv_epi64(t4, k),
                                             _mm512_bslli_epi128(top, 8)),
                            _mm512_clmulepi64_epi128(
                                top, _mm512_set1_epi64(0x87), 0x01));
    /* register j holds blocks 4j..4j+3; no chain between them */
    T[1] = MUL_XK512(T[0], 4);
    T[2] = MUL_XK512(T[0], 8);
    T[3] = MUL_XK512(T[0], 12);
    T[4] = MUL_XK512(T[0], 16);
    T[5] = MUL_XK512(T[0], 20);
    T[6] = MUL_XK512(T[0], 24);
    T[7] = MUL_XK512(T[0], 28);
    for (; len >= 512; len -= 512, in += 512, out += 512) {
        blocks32_vaes(rk, c->rounds, enc, T, in, out);
    }
    /* fewer than 32 blocks left: T[j] is the tweak of the next four */
    for (j = 0; len >= 64; j++, len -= 64, in += 64, out += 64) {
        b = aes4(rk, c->rounds, enc, T[j], _mm512_loadu_si512(in));
        _mm512_storeu_si512(out, b);
    }
    if (len > 0) {
        /* 1..3 blocks; the mask depends on the length only */
        __mmask64 m = _cvtu64_mask64((1ULL << len) - 1);

        b = aes4(rk, c->rounds, enc, T[j], _mm512_maskz_loadu_epi8(m, in));
        _mm512_mask_storeu_epi8(out, m, b);
    }
}

/*
 * One copy per direction, so that the direction is a constant in the
 * inner loops (no branch there, and the blocks stay in registers).
 */
typedef void UnitFn(const QCryptoCipherXts *c, __m128i t, const guint8 *in,
                    guint8 *out, size_t len);

VAES_FN static void unit_vaes_enc(const QCryptoCipherXts *c, __m128i t,
                                  const guint8 *in, guint8 *out, size_t len)
{
    unit_vaes(c, true, t, in, out, len);
}

VAES_FN static void unit_vaes_dec(const QCryptoCipherXts *c, __m128i t,
                                  const guint8 *in, guint8 *out, size_t len)
{
    unit_vaes(c, false, t, in, out, len);
}

AESNI_FN static void unit_aesni_enc(const QCryptoCipherXts *c, __m128i t,
                                    const guint8 *in, guint8 *out, size_t len)
{
    unit_aesni(c, true, t, in, out, len);
}

AESNI_FN static void unit_aesni_dec(const QCryptoCipherXts *c, __m128i t,
                                    const guint8 *in, guint8 *out, size_t len)
{
    unit_aesni(c, false, t, in, out, len);
}

/* The tweaks of four consecutive sectors, E_K2(LE64(iv & mask)), at once. */
VAES_FN static void tweaks4_vaes(const QCryptoCipherXts *c,
                                 const QCryptoCipherSectors *s, uint64_t iv,
                                 __m128i *tw)
{
    uint64_t m = s->iv_mask, d = s->iv_step;
    __m512i v = _mm512_set_epi64(0, (iv + 3 * d) & m, 0, (iv + 2 * d) & m,
                                 0, (iv + d) & m, 0, iv & m);

    v = _mm512_xor_si512(v, c->twk4[0]);
    for (int r = 1; r < c->rounds; r++) {
        v = _mm512_aesenc_epi128(v, c->twk4[r]);
    }
    v = _mm512_aesenclast_epi128(v, c->twk4[c->rounds]);
    _mm512_storeu_si512(tw, v);
}

VAES_FN static void sectors_vaes(const QCryptoCipherXts *c, bool enc,
                                 const QCryptoCipherSectors *s,
                                 const guint8 *in, guint8 *out, size_t len)
{
    size_t ss = s->sector_size, n = len / ss;
    uint64_t iv = s->first_iv;
    UnitFn *unit = enc ? unit_vaes_enc : unit_vaes_dec;
    __m128i tw[4];

    for (size_t i = 0; i < n; i += 4, iv += 4 * s->iv_step) {
        tweaks4_vaes(c, s, iv, tw);
        for (size_t j = 0; j < 4 && i + j < n; j++) {
            unit(c, tw[j], in + (i + j) * ss, out + (i + j) * ss, ss);
        }
    }
    qemu_secmem_wipe(tw, sizeof(tw));
}

AESNI_FN static void sectors_aesni(const QCryptoCipherXts *c, bool enc,
                                   const QCryptoCipherSectors *s,
                                   const guint8 *in, guint8 *out, size_t len)
{
    size_t ss = s->sector_size;
    uint64_t iv = s->first_iv;
    UnitFn *unit = enc ? unit_aesni_enc : unit_aesni_dec;

    for (size_t off = 0; off < len; off += ss, iv += s->iv_step) {
        __m128i t = _mm_set_epi64x(0, (long long)(iv & s->iv_mask));

        unit(c, aes_enc1(c->twk, c->rounds, t), in + off, out + off, ss);
    }
}

/* ---- the cipher driver ---- */

static void xts_setiv(QCryptoCipher *cipher, const guint8 *iv, size_t niv)
{
    memcpy(((QCryptoCipherXts *)cipher)->iv, iv, niv);
}

/* One data unit with the tweak set by setiv (which it does not advance). */
AESNI_FN static void xts_unit(QCryptoCipherXts *c, bool enc, const void *in,
                              void *out, size_t len)
{
    __m128i t = aes_enc1(c->twk, c->rounds,
                         _mm_loadu_si128((const __m128i *)c->iv));

    if (c->vaes) {
        (enc ? unit_vaes_enc : unit_vaes_dec)(c, t, in, out, len);
    } else {
        (enc ? unit_aesni_enc : unit_aesni_dec)(c, t, in, out, len);
    }
}

static int xts_encrypt(QCryptoCipher *cipher, const void *in, void *out,
                       size_t len, GError **errp)
{
    xts_unit((QCryptoCipherXts *)cipher, true, in, out, len);
    return 0;
}

static int xts_decrypt(QCryptoCipher *cipher, const void *in, void *out,
                       size_t len, GError **errp)
{
    xts_unit((QCryptoCipherXts *)cipher, false, in, out, len);
    return 0;
}

static void xts_crypt_sectors(QCryptoCipher *cipher, bool encrypt,
                              const QCryptoCipherSectors *s, const void *in,
                              void *out, size_t len)
{
    QCryptoCipherXts *c = (QCryptoCipherXts *)cipher;

    if (c->vaes) {
        sectors_vaes(c, encrypt, s, in, out, len);
    } else {
        sectors_aesni(c, encrypt, s, in, out, len);
    }
}

static void xts_free(QCryptoCipher *cipher)
{
    /* qemu_secmem_free() wipes the schedules before releasing them. */
    qemu_secmem_free(cipher, sizeof(QCryptoCipherXts));
}

static const QCryptoCipherDriver xts_vaes_driver = {
    .name = "xts-vaes",
    .setiv = xts_setiv,
    .encrypt = xts_encrypt,
    .decrypt = xts_decrypt,
    .crypt_sectors = xts_crypt_sectors,
    .free = xts_free,
};

static const QCryptoCipherDriver xts_aesni_driver = {
    .name = "xts-aesni",
    .setiv = xts_setiv,
    .encrypt = xts_encrypt,
    .decrypt = xts_decrypt,
    .crypt_sectors = xts_crypt_sectors,
    .free = xts_free,
};

AESNI_FN static void xts_set_keys(QCryptoCipherXts *c, const guint8 *key,
                                  size_t half)
{
    if (half == 16) {
        expand128(c->enc, key);
        expand128(c->twk, key + 16);
    } else {
        expand256(c->enc, key);
        expand256(c->twk, key + 32);
    }
    invert_schedule(c->dec, c->enc, c->rounds);
}

QCryptoCipher *qcrypto_cipher_xts_x86_new(QCryptoCipherAlgo alg,
                                          QCryptoCipherMode mode,
                                          const guint8 *key, size_t nkey,
                                          bool vaes, GError **errp)
{
    QCryptoCipherXts *c;

    if (!qcrypto_cipher_xts_x86_supports(alg, mode) ||
        nkey != 2 * qcrypto_cipher_get_key_len(alg) ||
        !qcrypto_cipher_xts_x86_usable(vaes)) {
        error_setg(errp, "The %s backend cannot serve %s-%s on this CPU",
                   vaes ? "VAES" : "AES-NI", qcrypto_cipher_alg_name(alg),
                   qcrypto_cipher_mode_name(mode));
        return NULL;
    }
    /* key schedules in locked memory, like the other backends' */
    c = qemu_secmem_alloc(sizeof(*c));
    c->base.alg = alg;
    c->base.mode = mode;
    c->base.driver = vaes ? &xts_vaes_driver : &xts_aesni_driver;
    c->vaes = vaes;
    c->rounds = nkey == 32 ? 10 : 14;
    xts_set_keys(c, key, nkey / 2);
    if (vaes) {
        broadcast_schedules(c);
    }
    return &c->base;
}

#else /* not x86-64: the library backends serve XTS */

bool qcrypto_cipher_xts_x86_usable(bool vaes)
{
    (void)vaes;
    return false;
}

QCryptoCipher *qcrypto_cipher_xts_x86_new(QCryptoCipherAlgo alg,
                                          QCryptoCipherMode mode,
                                          const guint8 *key, size_t nkey,
                                          bool vaes, GError **errp)
{
    (void)alg, (void)mode, (void)key, (void)nkey, (void)vaes;
    error_setg(errp, "AES-NI XTS is only built for x86-64");
    return NULL;
}

#endif
