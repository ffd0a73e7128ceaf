/*
 * Cipher tests: IEEE 1619-2007 XTS-AES vectors, NIST SP 800-38A AES
 * ECB/CBC/CTR vectors, serpent/twofish/cast5 known answers, round trips of
 * every supported algorithm/mode pair, and agreement of the GnuTLS and
 * Nettle backends wherever both serve a combination.
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "crypto/cipher.h"
#include "crypto/cipherpriv.h"
#include "crypto/random.h"
#include "test-crypto-hex.h"
#include <nettle/nettle-meta.h>
#include <nettle/xts.h>

/*
 * IEEE Std 1619-2007 Annex B, vectors 1-4 (AES-128) and 10-14 (AES-256).
 * Key = key1 || key2, tweak = data unit sequence number, little endian.
 * A NULL plaintext means the 512-byte pattern 00 01 .. ff 00 01 .. ff.
 * The ciphertexts were checked against OpenSSL through python3-cryptography
 * (modes.XTS) and agree with the published values.
 */
typedef struct {
    int num;
    const char *key1, *key2;
    uint64_t seq;
    const char *pt;
    const char *ct;
} XtsVector;

static const XtsVector xts_vectors[] = {
    { 1, "00000000000000000000000000000000",
      "00000000000000000000000000000000",
      0x0ULL,
      "0000000000000000000000000000000000000000000000000000000000000000",
      "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e" },
    { 2, "11111111111111111111111111111111",
      "22222222222222222222222222222222",
      0x3333333333ULL,
      "4444444444444444444444444444444444444444444444444444444444444444",
      "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0" },
    { 3, "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0",
      "22222222222222222222222222222222",
      0x3333333333ULL,
      "4444444444444444444444444444444444444444444444444444444444444444",
      "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89" },
    { 4, "27182818284590452353602874713526",
      "31415926535897932384626433832795",
      0x0ULL,
      NULL,
      "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89c"
      "c78cf7f5e543445f8333d8fa7f56000005279fa5d8b5e4ad40e736ddb4d35412"
      "328063fd2aab53e5ea1e0a9f332500a5df9487d07a5c92cc512c8866c7e860ce"
      "93fdf166a24912b422976146ae20ce846bb7dc9ba94a767aaef20c0d61ad0265"
      "5ea92dc4c4e41a8952c651d33174be51a10c421110e6d81588ede82103a252d8"
      "a750e8768defffed9122810aaeb99f9172af82b604dc4b8e51bcb08235a6f434"
      "1332e4ca60482a4ba1a03b3e65008fc5da76b70bf1690db4eae29c5f1badd03c"
      "5ccf2a55d705ddcd86d449511ceb7ec30bf12b1fa35b913f9f747a8afd1b130e"
      "94bff94effd01a91735ca1726acd0b197c4e5b03393697e126826fb6bbde8ecc"
      "1e08298516e2c9ed03ff3c1b7860f6de76d4cecd94c8119855ef5297ca67e9f3"
      "e7ff72b1e99785ca0a7e7720c5b36dc6d72cac9574c8cbbc2f801e23e56fd344"
      "b07f22154beba0f08ce8891e643ed995c94d9a69c9f1b5f499027a78572aeebd"
      "74d20cc39881c213ee770b1010e4bea718846977ae119f7a023ab58cca0ad752"
      "afe656bb3c17256a9f6e9bf19fdd5a38fc82bbe872c5539edb609ef4f79c203e"
      "bb140f2e583cb2ad15b4aa5b655016a8449277dbd477ef2c8d6c017db738b18d"
      "eb4a427d1923ce3ff262735779a418f20a282df920147beabe421ee5319d0568" },
    { 10, "2718281828459045235360287471352662497757247093699959574966967627",
      "3141592653589793238462643383279502884197169399375105820974944592",
      0xffULL,
      NULL,
      "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b"
      "5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd"
      "5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0"
      "c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca"
      "2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0"
      "b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f"
      "93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec"
      "583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a"
      "84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1"
      "505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae"
      "9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29"
      "a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac"
      "6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f"
      "645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385"
      "1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa"
      "773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151" },
    { 11, "2718281828459045235360287471352662497757247093699959574966967627",
      "3141592653589793238462643383279502884197169399375105820974944592",
      0xffffULL,
      NULL,
      "77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11"
      "e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2"
      "469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d"
      "3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b201"
      "3fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca179"
      "8d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922a"
      "aa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c6"
      "9aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80"
      "470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888a"
      "bf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab0"
      "18bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75"
      "bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63"
      "094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a"
      "7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca68"
      "6e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc090"
      "54fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803" },
    { 12, "2718281828459045235360287471352662497757247093699959574966967627",
      "3141592653589793238462643383279502884197169399375105820974944592",
      0xffffffULL,
      NULL,
      "e387aaa58ba483afa7e8eb469778317ecf4cf573aa9d4eac23f2cdf914e4e200"
      "a8b490e42ee646802dc6ee2b471b278195d60918ececb44bf79966f83faba049"
      "9298ebc699c0c8634715a320bb4f075d622e74c8c932004f25b41e361025b5a8"
      "7815391f6108fc4afa6a05d9303c6ba68a128a55705d415985832fdeaae6c8e1"
      "9110e84d1b1f199a2692119edc96132658f09da7c623efcec712537a3d94c0bf"
      "5d7e352ec94ae5797fdb377dc1551150721adf15bd26a8efc2fcaad56881fa9e"
      "62462c28f30ae1ceaca93c345cf243b73f542e2074a705bd2643bb9f7cc79bb6"
      "e7091ea6e232df0f9ad0d6cf502327876d82207abf2115cdacf6d5a48f6c1879"
      "a65b115f0f8b3cb3c59d15dd8c769bc014795a1837f3901b5845eb491adfefe0"
      "97b1fa30a12fc1f65ba22905031539971a10f2f36c321bb51331cdefb39e3964"
      "c7ef079994f5b69b2edd83a71ef549971ee93f44eac3938fcdd61d01fa71799d"
      "a3a8091c4c48aa9ed263ff0749df95d44fef6a0bb578ec69456aa5408ae32c7a"
      "f08ad7ba8921287e3bbee31b767be06a0e705c864a769137df28292283ea81a2"
      "480241b44d9921cdbec1bc28dc1fda114bd8e5217ac9d8ebafa720e9da4f9ace"
      "231cc949e5b96fe76ffc21063fddc83a6b8679c00d35e09576a875305bed5f36"
      "ed242c8900dd1fa965bc950dfce09b132263a1eef52dd6888c309f5a7d712826" },
    { 13, "2718281828459045235360287471352662497757247093699959574966967627",
      "3141592653589793238462643383279502884197169399375105820974944592",
      0xffffffffULL,
      NULL,
      "bf53d2dade78e822a4d949a9bc6766b01b06a8ef70d26748c6a7fc36d80ae4c5"
      "520f7c4ab0ac8544424fa405162fef5a6b7f229498063618d39f0003cb5fb8d1"
      "c86b643497da1ff945c8d3bedeca4f479702a7a735f043ddb1d6aaade3c4a0ac"
      "7ca7f3fa5279bef56f82cd7a2f38672e824814e10700300a055e1630b8f1cb0e"
      "919f5e942010a416e2bf48cb46993d3cb6a51c19bacf864785a00bc2ecff15d3"
      "50875b246ed53e68be6f55bd7e05cfc2b2ed6432198a6444b6d8c247fab941f5"
      "69768b5c429366f1d3f00f0345b96123d56204c01c63b22ce78baf116e525ed9"
      "0fdea39fa469494d3866c31e05f295ff21fea8d4e6e13d67e47ce722e9698a1c"
      "1048d68ebcde76b86fcf976eab8aa9790268b7068e017a8b9b749409514f1053"
      "027fd16c3786ea1bac5f15cb79711ee2abe82f5cf8b13ae73030ef5b9e4457e7"
      "5d1304f988d62dd6fc4b94ed38ba831da4b7634971b6cd8ec325d9c61c00f1df"
      "73627ed3745a5e8489f3a95c69639c32cd6e1d537a85f75cc844726e8a72fc00"
      "77ad22000f1d5078f6b866318c668f1ad03d5a5fced5219f2eabbd0aa5c0f460"
      "d183f04404a0d6f469558e81fab24a167905ab4c7878502ad3e38fdbe62a4155"
      "6cec37325759533ce8f25f367c87bb5578d667ae93f9e2fd99bcbc5f2fbba88c"
      "f6516139420fcff3b7361d86322c4bd84c82f335abb152c4a93411373aaa8220" },
    { 14, "2718281828459045235360287471352662497757247093699959574966967627",
      "3141592653589793238462643383279502884197169399375105820974944592",
      0xffffffffffULL,
      NULL,
      "64497e5a831e4a932c09be3e5393376daa599548b816031d224bbf50a818ed23"
      "50eae7e96087c8a0db51ad290bd00c1ac1620857635bf246c176ab463be30b80"
      "8da548081ac847b158e1264be25bb0910bbc92647108089415d45fab1b3d2604"
      "e8a8eff1ae4020cfa39936b66827b23f371b92200be90251e6d73c5f86de5fd4"
      "a950781933d79a28272b782a2ec313efdfcc0628f43d744c2dc2ff3dcb66999b"
      "50c7ca895b0c64791eeaa5f29499fb1c026f84ce5b5c72ba1083cddb5ce45434"
      "631665c333b60b11593fb253c5179a2c8db813782a004856a1653011e93fb6d8"
      "76c18366dd8683f53412c0c180f9c848592d593f8609ca736317d356e13e2bff"
      "3a9f59cd9aeb19cd482593d8c46128bb32423b37a9adfb482b99453fbe25a41b"
      "f6feb4aa0bef5ed24bf73c762978025482c13115e4015aac992e5613a3b5c2f6"
      "85b84795cb6e9b2656d8c88157e52c42f978d8634c43d06fea928f2822e465aa"
      "6576e9bf419384506cc3ce3c54ac1a6f67dc66f3b30191e698380bc999b05abc"
      "e19dc0c6dcc2dd001ec535ba18deb2df1a101023108318c75dc98611a09dc48a"
      "0acdec676fabdf222f07e026f059b672b56e5cbc8e1d21bbd867dd9272120546"
      "81d70ea737134cdfce93b6f82ae22423274e58a0821cc5502e2d0ab4585e94de"
      "6975be5e0b4efce51cd3e70c25a1fbbbd609d273ad5b0d59631c531f6a0a57b9" },
};

static void xts_pattern(guint8 *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (guint8)i;
    }
}

static void xts_tweak(uint64_t seq, guint8 *iv)
{
    int i;

    memset(iv, 0, 16);
    for (i = 0; i < 8; i++) {
        iv[i] = (guint8)(seq >> (8 * i));
    }
}

static void check_xts_vector(const XtsVector *v, QCryptoCipherBackend backend)
{
    g_autofree guint8 *k1 = NULL, *k2 = NULL, *key = NULL, *pt = NULL;
    g_autofree guint8 *ct = NULL, *buf = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoCipher) c = NULL;
    size_t nk1, nk2, npt, nct;
    guint8 iv[16];
    QCryptoCipherAlgo alg;

    k1 = test_unhex(v->key1, &nk1);
    k2 = test_unhex(v->key2, &nk2);
    ct = test_unhex(v->ct, &nct);
    if (v->pt) {
        pt = test_unhex(v->pt, &npt);
    } else {
        npt = 512;
        pt = g_malloc(npt);
        xts_pattern(pt, npt);
    }
    g_assert_cmpuint(npt, ==, nct);
    key = g_malloc(nk1 + nk2);
    memcpy(key, k1, nk1);
    memcpy(key + nk1, k2, nk2);
    alg = nk1 == 16 ? QCRYPTO_CIPHER_ALGO_AES_128 : QCRYPTO_CIPHER_ALGO_AES_256;

    c = qcrypto_cipher_new_backend(backend, alg, QCRYPTO_CIPHER_MODE_XTS, key,
                                   nk1 + nk2, &err);
    g_assert_no_error(err);
    buf = g_malloc(npt);
    xts_tweak(v->seq, iv);

    /* out of place */
    g_assert_cmpint(qcrypto_cipher_setiv(c, iv, 16, &err), ==, 0);
    g_assert_cmpint(qcrypto_cipher_encrypt(c, pt, buf, npt, &err), ==, 0);
    g_assert_cmpmem(buf, npt, ct, nct);
    /* in place, and the tweak is not consumed by the previous call */
    memcpy(buf, ct, nct);
    g_assert_cmpint(qcrypto_cipher_decrypt(c, buf, buf, nct, &err), ==, 0);
    g_assert_cmpmem(buf, nct, pt, npt);
    memcpy(buf, pt, npt);
    g_assert_cmpint(qcrypto_cipher_encrypt(c, buf, buf, npt, &err), ==, 0);
    g_assert_cmpmem(buf, npt, ct, nct);
    g_assert_no_error(err);
}

static void test_xts_vectors(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(xts_vectors); i++) {
        check_xts_vector(&xts_vectors[i], QCRYPTO_CIPHER_BACKEND_AUTO);
        check_xts_vector(&xts_vectors[i], QCRYPTO_CIPHER_BACKEND_NETTLE);
    }
}

static void test_xts_vectors_gnutls(void)
{
    size_t i;

    /* Vector 1 uses identical key halves; GnuTLS may refuse those. */
    for (i = 1; i < G_N_ELEMENTS(xts_vectors); i++) {
        check_xts_vector(&xts_vectors[i], QCRYPTO_CIPHER_BACKEND_GNUTLS);
    }
}

/* NIST SP 800-38A appendix F: the four-block plaintext and the keys. */
static const char sp800_pt[] =
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
static const char sp800_iv[] = "000102030405060708090a0b0c0d0e0f";
static const char sp800_ctr[] = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

typedef struct {
    QCryptoCipherAlgo alg;
    QCryptoCipherMode mode;
    const char *key;
    const char *iv;
    const char *ct;
} KatVector;

#define K128 "2b7e151628aed2a6abf7158809cf4f3c"
#define K192 "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"
#define K256 "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"

/* SP 800-38A F.1 (ECB), F.2 (CBC), F.5 (CTR) */
static const KatVector aes_vectors[] = {
    { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_ECB, K128, NULL,
      "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
      "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4" },
    { QCRYPTO_CIPHER_ALGO_AES_192, QCRYPTO_CIPHER_MODE_ECB, K192, NULL,
      "bd334f1d6e45f25ff712a214571fa5cc974104846d0ad3ad7734ecb3ecee4eef"
      "ef7afd2270e2e60adce0ba2face6444e9a4b41ba738d6c72fb16691603c18e0e" },
    { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_ECB, K256, NULL,
      "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870"
      "b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7" },
    { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_CBC, K128, sp800_iv,
      "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
      "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7" },
    { QCRYPTO_CIPHER_ALGO_AES_192, QCRYPTO_CIPHER_MODE_CBC, K192, sp800_iv,
      "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
      "571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd" },
    { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_CBC, K256, sp800_iv,
      "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
      "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b" },
    { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_CTR, K128, sp800_ctr,
      "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
      "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee" },
    { QCRYPTO_CIPHER_ALGO_AES_192, QCRYPTO_CIPHER_MODE_CTR, K192, sp800_ctr,
      "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
      "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050" },
    { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_CTR, K256, sp800_ctr,
      "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
      "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6" },
    /* Counter wrap-around from ff..ff to 00..00 (computed with OpenSSL
     * through python3-cryptography, modes.CTR). */
    { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_CTR, K128,
      "ffffffffffffffffffffffffffffffff",
      "e13338e36cb71962e00d020b4cedbd86d3dae15b04bb352fa0f59febfcb4da3e"
      "67da610697ed5aae4b0fa7a0dd783d2961a00ab697367915d23c754bd99e2899" },
};

static void check_kat(const KatVector *v, const char *pthex,
                      QCryptoCipherBackend backend)
{
    g_autofree guint8 *key = NULL, *pt = NULL, *ct = NULL, *iv = NULL;
    g_autofree guint8 *buf = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoCipher) c = NULL;
    size_t nkey, npt, nct, niv = 0, half;

    key = test_unhex(v->key, &nkey);
    pt = test_unhex(pthex, &npt);
    ct = test_unhex(v->ct, &nct);
    g_assert_cmpuint(npt, ==, nct);
    if (v->iv) {
        iv = test_unhex(v->iv, &niv);
    }
    c = qcrypto_cipher_new_backend(backend, v->alg, v->mode, key, nkey, &err);
    g_assert_no_error(err);
    buf = g_malloc(npt);

    /* Two calls of half the data chain exactly like one call (cbc, ctr). */
    half = npt / 2 / qcrypto_cipher_get_block_len(v->alg) *
           qcrypto_cipher_get_block_len(v->alg);
    if (iv) {
        g_assert_cmpint(qcrypto_cipher_setiv(c, iv, niv, &err), ==, 0);
    }
    g_assert_cmpint(qcrypto_cipher_encrypt(c, pt, buf, half, &err), ==, 0);
    g_assert_cmpint(qcrypto_cipher_encrypt(c, pt + half, buf + half,
                                           npt - half, &err), ==, 0);
    g_assert_cmpmem(buf, npt, ct, nct);

    if (iv) {
        g_assert_cmpint(qcrypto_cipher_setiv(c, iv, niv, &err), ==, 0);
    }
    g_assert_cmpint(qcrypto_cipher_decrypt(c, buf, buf, nct, &err), ==, 0);
    g_assert_cmpmem(buf, npt, pt, npt);
    g_assert_no_error(err);
}

static void test_aes_sp800_38a(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(aes_vectors); i++) {
        const KatVector *v = &aes_vectors[i];

        check_kat(v, sp800_pt, QCRYPTO_CIPHER_BACKEND_AUTO);
        check_kat(v, sp800_pt, QCRYPTO_CIPHER_BACKEND_NETTLE);
        if (qcrypto_cipher_gnutls_supports(v->alg, v->mode)) {
            check_kat(v, sp800_pt, QCRYPTO_CIPHER_BACKEND_GNUTLS);
        }
    }
}

/*
 * Single-block known answers:
 * - serpent: NESSIE Serpent test vectors, set 1 vector 0 (key 80 00 .. 00,
 *   plaintext zero) for 128-, 192- and 256-bit keys;
 * - twofish: the Twofish paper's ecb_tbl.txt, I=1 (zero key, zero block);
 * - cast5: RFC 2144 appendix B.1 (128-bit key), also checked with OpenSSL
 *   through python3-cryptography.
 */
static const struct {
    QCryptoCipherAlgo alg;
    const char *key, *pt, *ct;
} block_kats[] = {
    { QCRYPTO_CIPHER_ALGO_SERPENT_128, "80000000000000000000000000000000",
      "00000000000000000000000000000000", "264e5481eff42a4606abda06c0bfda3d" },
    { QCRYPTO_CIPHER_ALGO_SERPENT_192,
      "800000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000", "9e274ead9b737bb21efcfca548602689" },
    { QCRYPTO_CIPHER_ALGO_SERPENT_256,
      "8000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000", "a223aa1288463c0e2be38ebd825616c0" },
    { QCRYPTO_CIPHER_ALGO_TWOFISH_128, "00000000000000000000000000000000",
      "00000000000000000000000000000000", "9f589f5cf6122c32b6bfec2f2ae8c35a" },
    { QCRYPTO_CIPHER_ALGO_TWOFISH_192,
      "000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000", "efa71f788965bd4453f860178fc19101" },
    { QCRYPTO_CIPHER_ALGO_TWOFISH_256,
      "0000000000000000000000000000000000000000000000000000000000000000",
      "00000000000000000000000000000000", "57ff739d4dc92c1bd7fc01700cc8216f" },
    { QCRYPTO_CIPHER_ALGO_CAST5_128, "0123456712345678234567893456789a",
      "0123456789abcdef", "238b4fe5847e44b2" },
};

static void test_block_kats(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(block_kats); i++) {
        KatVector v = { block_kats[i].alg, QCRYPTO_CIPHER_MODE_ECB,
                        block_kats[i].key, NULL, block_kats[i].ct };

        check_kat(&v, block_kats[i].pt, QCRYPTO_CIPHER_BACKEND_AUTO);
    }
}

/*
 * cast5 in CBC (OpenSSL via python3-cryptography, modes.CBC) and CTR
 * (derived in Python as ECB of the big-endian counter XOR plaintext).
 */
static void test_cast5_modes(void)
{
    static const char pt[] =
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";
    KatVector cbc = { QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CBC,
                      "0123456712345678234567893456789a", "0001020304050607",
                      "227e2d5f1a8fac6ceec574338e1e3982"
                      "1084a9bd24ad7f90890391a3a3f65f4e" };
    KatVector ctr = { QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CTR,
                      "0123456712345678234567893456789a", "0001020304050607",
                      "4e4e2238db032b3a7c37c5817406cda8"
                      "285620c8b4ab7bcd5c03f5fc5ddcca2c" };

    check_kat(&cbc, pt, QCRYPTO_CIPHER_BACKEND_AUTO);
    check_kat(&ctr, pt, QCRYPTO_CIPHER_BACKEND_AUTO);
}

/*
 * Every supported pair: sector-wise round trip with a fresh IV per sector,
 * in place and out of place; ciphertext differs from plaintext and from
 * the other sectors' ciphertext of the same data.
 */
static void roundtrip_one(QCryptoCipherAlgo alg, QCryptoCipherMode mode,
                          size_t sector)
{
    size_t nkey = qcrypto_cipher_get_mode_key_len(alg, mode);
    size_t blen = qcrypto_cipher_get_block_len(alg);
    size_t nsec = 4, total = sector * nsec, s;
    g_autofree guint8 *key = g_malloc(nkey);
    g_autofree guint8 *pt = g_malloc(sector);
    g_autofree guint8 *ct = g_malloc(total);
    g_autofree guint8 *buf = g_malloc(total);
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoCipher) c = NULL;
    guint8 iv[16];

    g_assert_cmpint(qcrypto_random_bytes(key, nkey, &err), ==, 0);
    g_assert_cmpint(qcrypto_random_bytes(pt, sector, &err), ==, 0);
    c = qcrypto_cipher_new(alg, mode, key, nkey, &err);
    g_assert_no_error(err);

    for (s = 0; s < nsec; s++) {
        memset(iv, 0, sizeof(iv));
        iv[0] = (guint8)s;
        if (mode != QCRYPTO_CIPHER_MODE_ECB) {
            g_assert_cmpint(qcrypto_cipher_setiv(c, iv, blen, &err), ==, 0);
        }
        g_assert_cmpint(qcrypto_cipher_encrypt(c, pt, ct + s * sector, sector,
                                               &err), ==, 0);
        g_assert(memcmp(ct + s * sector, pt, sector) != 0);
    }
    if (mode != QCRYPTO_CIPHER_MODE_ECB) {
        g_assert(memcmp(ct, ct + sector, sector) != 0);
    }
    memcpy(buf, ct, total);
    for (s = 0; s < nsec; s++) {
        memset(iv, 0, sizeof(iv));
        iv[0] = (guint8)s;
        if (mode != QCRYPTO_CIPHER_MODE_ECB) {
            g_assert_cmpint(qcrypto_cipher_setiv(c, iv, blen, &err), ==, 0);
        }
        g_assert_cmpint(qcrypto_cipher_decrypt(c, buf + s * sector,
                                               buf + s * sector, sector,
                                               &err), ==, 0);
        g_assert_cmpmem(buf + s * sector, sector, pt, sector);
    }
    g_assert_no_error(err);
}

static void test_roundtrip_all(void)
{
    int alg, mode, n = 0;

    for (alg = 0; alg < QCRYPTO_CIPHER_ALGO__MAX; alg++) {
        for (mode = 0; mode < QCRYPTO_CIPHER_MODE__MAX; mode++) {
            bool want = !(alg == QCRYPTO_CIPHER_ALGO_CAST5_128 &&
                          mode == QCRYPTO_CIPHER_MODE_XTS);

            g_assert_cmpint(qcrypto_cipher_supports(alg, mode), ==, want);
            if (!want) {
                continue;
            }
            roundtrip_one(alg, mode, 512);
            roundtrip_one(alg, mode, 4096);
            n++;
        }
    }
    g_assert_cmpint(n, ==, 39);
}

/* Where both backends serve a pair, they must produce identical output. */
static void test_backends_agree(void)
{
    int alg, mode;

    for (alg = 0; alg < QCRYPTO_CIPHER_ALGO__MAX; alg++) {
        for (mode = 0; mode < QCRYPTO_CIPHER_MODE__MAX; mode++) {
            size_t nkey = qcrypto_cipher_get_mode_key_len(alg, mode);
            guint8 key[64], iv[16], pt[4096], a[4096], b[4096];
            g_autoptr(QCryptoCipher) g = NULL;
            g_autoptr(QCryptoCipher) n = NULL;
            g_autoptr(GError) err = NULL;

            if (!qcrypto_cipher_gnutls_supports(alg, mode)) {
                continue;
            }
            qcrypto_random_bytes(key, nkey, &err);
            qcrypto_random_bytes(iv, sizeof(iv), &err);
            qcrypto_random_bytes(pt, sizeof(pt), &err);
            g = qcrypto_cipher_new_backend(QCRYPTO_CIPHER_BACKEND_GNUTLS, alg,
                                           mode, key, nkey, &err);
            g_assert_no_error(err);
            n = qcrypto_cipher_new_backend(QCRYPTO_CIPHER_BACKEND_NETTLE, alg,
                                           mode, key, nkey, &err);
            g_assert_no_error(err);
            g_assert_cmpstr(qcrypto_cipher_backend_name(g), ==, "gnutls");
            g_assert_cmpstr(qcrypto_cipher_backend_name(n), ==, "nettle");
            qcrypto_cipher_setiv(g, iv, 16, &err);
            qcrypto_cipher_setiv(n, iv, 16, &err);
            g_assert_cmpint(qcrypto_cipher_encrypt(g, pt, a, sizeof(pt), &err),
                            ==, 0);
            g_assert_cmpint(qcrypto_cipher_encrypt(n, pt, b, sizeof(pt), &err),
                            ==, 0);
            g_assert_cmpmem(a, sizeof(a), b, sizeof(b));
        }
    }
}

/*
 * The Nettle backend's XTS (tweaks computed per chunk, bulk block calls) must
 * equal Nettle's reference xts_encrypt_message() for every 128-bit-block
 * cipher, including lengths spanning several internal chunks.
 */
static void test_xts_vs_nettle_reference(void)
{
    static const struct {
        QCryptoCipherAlgo alg;
        const struct nettle_cipher *meta;
    } list[] = {
        { QCRYPTO_CIPHER_ALGO_AES_128, &nettle_aes128 },
        { QCRYPTO_CIPHER_ALGO_AES_192, &nettle_aes192 },
        { QCRYPTO_CIPHER_ALGO_AES_256, &nettle_aes256 },
        { QCRYPTO_CIPHER_ALGO_SERPENT_128, &nettle_serpent128 },
        { QCRYPTO_CIPHER_ALGO_SERPENT_192, &nettle_serpent192 },
        { QCRYPTO_CIPHER_ALGO_SERPENT_256, &nettle_serpent256 },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_128, &nettle_twofish128 },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_192, &nettle_twofish192 },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_256, &nettle_twofish256 },
    };
    static const size_t lens[] = { 16, 512, 4096, 4096 + 48, 3 * 4096 + 16 };
    size_t i, l;

    for (i = 0; i < G_N_ELEMENTS(list); i++) {
        const struct nettle_cipher *m = list[i].meta;
        size_t nkey = 2 * m->key_size;
        g_autofree guint8 *enc = g_malloc(m->context_size);
        g_autofree guint8 *twk = g_malloc(m->context_size);
        g_autofree guint8 *pt = g_malloc(3 * 4096 + 16);
        g_autofree guint8 *a = g_malloc(3 * 4096 + 16);
        g_autofree guint8 *b = g_malloc(3 * 4096 + 16);
        guint8 key[64], iv[16];
        g_autoptr(QCryptoCipher) c = NULL;
        g_autoptr(GError) err = NULL;

        qcrypto_random_bytes(key, nkey, &err);
        qcrypto_random_bytes(iv, 16, &err);
        qcrypto_random_bytes(pt, 3 * 4096 + 16, &err);
        m->set_encrypt_key(enc, key);
        m->set_encrypt_key(twk, key + m->key_size);
        c = qcrypto_cipher_new_backend(QCRYPTO_CIPHER_BACKEND_NETTLE,
                                       list[i].alg, QCRYPTO_CIPHER_MODE_XTS,
                                       key, nkey, &err);
        g_assert_no_error(err);
        for (l = 0; l < G_N_ELEMENTS(lens); l++) {
            xts_encrypt_message(enc, twk, m->encrypt, iv, lens[l], a, pt);
            g_assert_cmpint(qcrypto_cipher_setiv(c, iv, 16, &err), ==, 0);
            g_assert_cmpint(qcrypto_cipher_encrypt(c, pt, b, lens[l], &err),
                            ==, 0);
            g_assert_cmpmem(a, lens[l], b, lens[l]);
            g_assert_cmpint(qcrypto_cipher_decrypt(c, b, b, lens[l], &err),
                            ==, 0);
            g_assert_cmpmem(b, lens[l], pt, lens[l]);
        }
    }
}

/*
 * One cipher object per thread, all with the same key: every thread gets
 * the ciphertext a single thread computes (GnuTLS and Nettle objects).
 */
typedef struct {
    QCryptoCipherAlgo alg;
    const guint8 *key, *pt, *want;
    size_t nkey, len;
} ThreadJob;

static gpointer cipher_thread(gpointer opaque)
{
    ThreadJob *job = opaque;
    g_autofree guint8 *buf = g_malloc(job->len);
    g_autoptr(QCryptoCipher) c = NULL;
    int round;
    size_t off;

    c = qcrypto_cipher_new(job->alg, QCRYPTO_CIPHER_MODE_XTS, job->key,
                           job->nkey, NULL);
    for (round = 0; round < 20; round++) {
        for (off = 0; off < job->len; off += 512) {
            guint8 iv[16] = { 0 };

            iv[0] = (guint8)(off / 512);
            qcrypto_cipher_setiv(c, iv, 16, NULL);
            qcrypto_cipher_encrypt(c, job->pt + off, buf + off, 512, NULL);
        }
        g_assert_cmpmem(buf, job->len, job->want, job->len);
    }
    return NULL;
}

static void test_threads(void)
{
    static const QCryptoCipherAlgo algs[] = {
        QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_ALGO_AES_192,
        QCRYPTO_CIPHER_ALGO_SERPENT_128,
    };
    size_t a, t, len = 64 * 512;

    for (a = 0; a < G_N_ELEMENTS(algs); a++) {
        size_t nkey = qcrypto_cipher_get_mode_key_len(algs[a],
                                                      QCRYPTO_CIPHER_MODE_XTS);
        g_autofree guint8 *pt = g_malloc(len);
        g_autofree guint8 *want = g_malloc(len);
        guint8 key[64];
        ThreadJob job = { algs[a], key, pt, want, nkey, len };
        GThread *th[4];
        g_autoptr(QCryptoCipher) c = NULL;
        size_t off;

        qcrypto_random_bytes(key, sizeof(key), NULL);
        qcrypto_random_bytes(pt, len, NULL);
        c = qcrypto_cipher_new(algs[a], QCRYPTO_CIPHER_MODE_XTS, key, nkey,
                               NULL);
        for (off = 0; off < len; off += 512) {
            guint8 iv[16] = { 0 };

            iv[0] = (guint8)(off / 512);
            qcrypto_cipher_setiv(c, iv, 16, NULL);
            qcrypto_cipher_encrypt(c, pt + off, want + off, 512, NULL);
        }
        for (t = 0; t < G_N_ELEMENTS(th); t++) {
            th[t] = g_thread_new("cipher", cipher_thread, &job);
        }
        for (t = 0; t < G_N_ELEMENTS(th); t++) {
            g_thread_join(th[t]);
        }
    }
}

static void test_backend_choice(void)
{
    static const guint8 key[64] = { 1, 2, 3 };
    g_autoptr(QCryptoCipher) xts256 = NULL;
    g_autoptr(QCryptoCipher) xts192 = NULL;
    g_autoptr(QCryptoCipher) cbc192 = NULL;
    g_autoptr(QCryptoCipher) serpent = NULL;

    xts256 = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_256,
                                QCRYPTO_CIPHER_MODE_XTS, key, 64, NULL);
    xts192 = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_192,
                                QCRYPTO_CIPHER_MODE_XTS, key, 48, NULL);
    cbc192 = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_192,
                                QCRYPTO_CIPHER_MODE_CBC, key, 24, NULL);
    serpent = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_SERPENT_256,
                                 QCRYPTO_CIPHER_MODE_XTS, key, 64, NULL);
    g_assert_cmpstr(qcrypto_cipher_backend_name(xts256), ==, "gnutls");
    g_assert_cmpstr(qcrypto_cipher_backend_name(xts192), ==, "nettle");
    g_assert_cmpstr(qcrypto_cipher_backend_name(cbc192), ==, "gnutls");
    g_assert_cmpstr(qcrypto_cipher_backend_name(serpent), ==, "nettle");
}

static void test_key_lengths(void)
{
    g_assert_cmpuint(qcrypto_cipher_get_key_len(QCRYPTO_CIPHER_ALGO_AES_192),
                     ==, 24);
    g_assert_cmpuint(qcrypto_cipher_get_mode_key_len(
                         QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_XTS),
                     ==, 64);
    g_assert_cmpuint(qcrypto_cipher_get_mode_key_len(
                         QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CBC),
                     ==, 16);
    g_assert_cmpuint(qcrypto_cipher_get_block_len(
                         QCRYPTO_CIPHER_ALGO_CAST5_128), ==, 8);
    g_assert_cmpuint(qcrypto_cipher_get_block_len(
                         QCRYPTO_CIPHER_ALGO_TWOFISH_192), ==, 16);
}

static void test_errors(void)
{
    static const guint8 key[64];
    guint8 buf[64] = { 0 };
    g_autoptr(QCryptoCipher) ecb = NULL;
    g_autoptr(QCryptoCipher) cbc = NULL;
    GError *err = NULL;

    g_assert_null(qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_256,
                                     QCRYPTO_CIPHER_MODE_XTS, key, 32, &err));
    g_assert_nonnull(strstr(err->message, "key length 32"));
    g_clear_error(&err);

    g_assert_null(qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_CAST5_128,
                                     QCRYPTO_CIPHER_MODE_XTS, key, 32, &err));
    g_assert_cmpstr(err->message, ==,
                    "Cipher 'cast5-128' does not support mode 'xts'");
    g_clear_error(&err);

    g_assert_null(qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO__MAX,
                                     QCRYPTO_CIPHER_MODE_CBC, key, 16, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);

    ecb = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                             QCRYPTO_CIPHER_MODE_ECB, key, 16, &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_cipher_setiv(ecb, buf, 16, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_cipher_encrypt(ecb, buf, buf, 15, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "multiple of the block length"));
    g_clear_error(&err);

    cbc = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                             QCRYPTO_CIPHER_MODE_CBC, key, 16, &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_cipher_setiv(cbc, buf, 8, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, "does not match block length 16"));
    g_clear_error(&err);
    g_assert_cmpint(qcrypto_cipher_decrypt(cbc, buf, buf, 17, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/cipher/xts-ieee1619", test_xts_vectors);
    g_test_add_func("/crypto/cipher/xts-ieee1619-gnutls",
                    test_xts_vectors_gnutls);
    g_test_add_func("/crypto/cipher/aes-sp800-38a", test_aes_sp800_38a);
    g_test_add_func("/crypto/cipher/block-kats", test_block_kats);
    g_test_add_func("/crypto/cipher/cast5-cbc-ctr", test_cast5_modes);
    g_test_add_func("/crypto/cipher/roundtrip-all", test_roundtrip_all);
    g_test_add_func("/crypto/cipher/backends-agree", test_backends_agree);
    g_test_add_func("/crypto/cipher/backend-choice", test_backend_choice);
    g_test_add_func("/crypto/cipher/threads", test_threads);
    g_test_add_func("/crypto/cipher/xts-vs-nettle-reference",
                    test_xts_vs_nettle_reference);
    g_test_add_func("/crypto/cipher/key-lengths", test_key_lengths);
    g_test_add_func("/crypto/cipher/errors", test_errors);
    return g_test_run();
}
