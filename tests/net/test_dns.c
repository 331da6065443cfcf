/* Name resolution: the DNS codec on hand-made messages (compression, CNAME
 * chains, truncation, wrong ids), and lookups on the ring: literals and
 * /etc/hosts answer without DNS, a test nameserver on loopback answers the
 * rest, NXDOMAIN and silence become errors that say so, cancel means no
 * callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "resolve.h"
#include "wait.h"

/* --- the codec ------------------------------------------------------------------- */

/* An answer to `query`: its header and question, then records as given. */
static size_t answer_for(const uint8_t *query, size_t qlen, int rcode, const uint8_t *records,
                         size_t rlen, int ancount, uint8_t *out)
{
    memcpy(out, query, qlen);
    out[2] = 0x81; /* QR, RD */
    out[3] = (uint8_t)(0x80 | rcode);
    out[6] = 0;
    out[7] = (uint8_t)ancount;
    if (rlen)
        memcpy(out + qlen, records, rlen);
    return qlen + rlen;
}

static void query_layout(void **state)
{
    uint8_t q[512];
    size_t n = lkdns_query(q, sizeof q, 0xbeef, "media.example.com", LKDNS_A);
    static const uint8_t want[] = {0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                   5, 'm', 'e', 'd', 'i', 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
                                   3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(q, want, sizeof want);
    assert_int_equal(lkdns_query(q, sizeof q, 1, "trailing.dot.", LKDNS_A), 12 + 14 + 4);
    assert_int_equal(lkdns_query(q, sizeof q, 1, "a..b", LKDNS_A), 0);
    assert_int_equal(lkdns_query(q, sizeof q, 1, "", LKDNS_A), 0);
    char long_label[80];
    memset(long_label, 'x', 70);
    long_label[70] = '\0';
    assert_int_equal(lkdns_query(q, sizeof q, 1, long_label, LKDNS_A), 0);
}

static void answers_with_compression_and_cname(void **state)
{
    uint8_t q[512], a[512];
    size_t qlen = lkdns_query(q, sizeof q, 7, "www.test", LKDNS_A);
    /* www.test CNAME edge.test (pointer to "test" at offset 16), then
     * edge.test A 192.0.2.7 (name as a pointer to the CNAME's target). */
    size_t cname_at = qlen + 12; /* where the CNAME's rdata starts */
    uint8_t rec[64];
    size_t r = 0;
    uint8_t cname[] = {0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 7, 4, 'e', 'd', 'g', 'e', 0xc0, 16};
    memcpy(rec + r, cname, sizeof cname);
    r += sizeof cname;
    uint8_t arec[] = {0xc0, (uint8_t)cname_at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7};
    memcpy(rec + r, arec, sizeof arec);
    r += sizeof arec;
    size_t alen = answer_for(q, qlen, 0, rec, r, 2, a);
    struct sockaddr_storage out;
    socklen_t len;
    assert_int_equal(lkdns_answer(a, alen, 7, "www.test", LKDNS_A, 443, &out, &len), LKDNS_FOUND);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out;
    assert_int_equal(ntohl(v4->sin_addr.s_addr), 0xc0000207);
    assert_int_equal(ntohs(v4->sin_port), 443);
    /* someone else's id, or another name: not our answer */
    assert_int_equal(lkdns_answer(a, alen, 8, "www.test", LKDNS_A, 443, &out, &len), LKDNS_MALFORMED);
    assert_int_equal(lkdns_answer(a, alen, 7, "www.other", LKDNS_A, 443, &out, &len), LKDNS_MALFORMED);
    /* every truncation is refused, never read past */
    for (size_t n = 0; n < alen; n++) {
        enum lkdns_result res = lkdns_answer(a, n, 7, "www.test", LKDNS_A, 443, &out, &len);
        assert_true(res == LKDNS_MALFORMED || res == LKDNS_NO_ADDRESS);
    }
}

static void nxdomain_nodata_and_aaaa(void **state)
{
    uint8_t q[512], a[512];
    struct sockaddr_storage out;
    socklen_t len;
    size_t qlen = lkdns_query(q, sizeof q, 9, "gone.test", LKDNS_A);
    size_t alen = answer_for(q, qlen, 3, NULL, 0, 0, a);
    assert_int_equal(lkdns_answer(a, alen, 9, "gone.test", LKDNS_A, 1, &out, &len), LKDNS_NXDOMAIN);
    alen = answer_for(q, qlen, 0, NULL, 0, 0, a);
    assert_int_equal(lkdns_answer(a, alen, 9, "gone.test", LKDNS_A, 1, &out, &len), LKDNS_NO_ADDRESS);
    alen = answer_for(q, qlen, 2, NULL, 0, 0, a);
    assert_int_equal(lkdns_answer(a, alen, 9, "gone.test", LKDNS_A, 1, &out, &len), LKDNS_SERVER_ERROR);

    qlen = lkdns_query(q, sizeof q, 10, "six.test", LKDNS_AAAA);
    uint8_t rec[] = {0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16,
                     0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    alen = answer_for(q, qlen, 0, rec, sizeof rec, 1, a);
    assert_int_equal(lkdns_answer(a, alen, 10, "six.test", LKDNS_AAAA, 7880, &out, &len), LKDNS_FOUND);
    assert_int_equal(out.ss_family, AF_INET6);
}

/* --- lookups on the ring ------------------------------------------------------------ */

typedef struct test_ns {
    int fd;
    struct sockaddr_in addr;
    pthread_t thread;
    _Atomic bool stop;
} test_ns;

/* Answers media.test with 10.1.2.3 (A; no AAAA), missing.test with
 * NXDOMAIN, and never answers silent.test. */
static void *ns_main(void *arg)
{
    test_ns *ns = arg;
    while (!atomic_load(&ns->stop)) {
        uint8_t q[512], a[600];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(ns->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
        if (n < 17)
            continue;
        char name[128] = "";
        size_t pos = 12, w = 0;
        while (pos < (size_t)n && q[pos] && w + q[pos] + 1 < sizeof name) {
            if (w)
                name[w++] = '.';
            memcpy(name + w, q + pos + 1, q[pos]);
            w += q[pos];
            pos += 1 + q[pos];
        }
        name[w] = '\0';
        uint16_t qtype = (uint16_t)(q[pos + 1] << 8 | q[pos + 2]);
        size_t alen;
        if (!strcmp(name, "silent.test"))
            continue;
        if (!strcmp(name, "missing.test")) {
            alen = answer_for(q, (size_t)n, 3, NULL, 0, 0, a);
        } else if (qtype == LKDNS_A) {
            uint8_t rec[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3};
            alen = answer_for(q, (size_t)n, 0, rec, sizeof rec, 1, a);
        } else {
            alen = answer_for(q, (size_t)n, 0, NULL, 0, 0, a);
        }
        sendto(ns->fd, a, alen, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

static test_ns ns;

static int setup(void **state)
{
    char err[128];
    assert_int_equal(lkio_start(1, err, sizeof err), 0);
    ns.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ns.addr.sin_family = AF_INET;
    ns.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(ns.fd, (struct sockaddr *)&ns.addr, sizeof ns.addr), 0);
    socklen_t l = sizeof ns.addr;
    getsockname(ns.fd, (struct sockaddr *)&ns.addr, &l);
    struct timeval tv = {0, 100000};
    setsockopt(ns.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    atomic_store(&ns.stop, false);
    pthread_create(&ns.thread, NULL, ns_main, &ns);
    return 0;
}

static int teardown(void **state)
{
    atomic_store(&ns.stop, true);
    pthread_join(ns.thread, NULL);
    close(ns.fd);
    lkio_stop(NULL);
    return 0;
}

typedef struct lookup_run {
    lkio_task task;
    const char *host;
    lknet_lookup_config cfg;
    bool cancel_at_once;
    bool started, called_during_start, called;
    struct sockaddr_storage addr;
    char error[400];
    sem_t done;
} lookup_run;

static void on_done(void *ctx, const struct sockaddr *addr, socklen_t len, const char *error)
{
    lookup_run *r = ctx;
    r->called = true;
    r->called_during_start = !r->started;
    if (addr)
        memcpy(&r->addr, addr, len);
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
    sem_post(&r->done);
}

static void start_task(lkio_task *t)
{
    lookup_run *r = lkio_container_of(t, lookup_run, task);
    lknet_lookup *l = lknet_lookup_start(lkio_current(), r->host, 7880, &r->cfg, on_done, r);
    r->started = true;
    if (r->cancel_at_once) {
        lknet_lookup_cancel(l);
        sem_post(&r->done);
    }
}

static void lookup(lookup_run *r, const char *host)
{
    r->host = host;
    r->cfg.nameserver = (struct sockaddr *)&ns.addr;
    r->cfg.nameserver_len = sizeof ns.addr;
    r->cfg.timeout_ms = 200;
    r->cfg.attempts = 2;
    sem_init(&r->done, 0, 0);
    lkio_post(lkio_worker_at(0), &r->task, start_task);
    wait_sem(&r->done);
}

static uint32_t ipv4_of(const lookup_run *r)
{
    return ntohl(((const struct sockaddr_in *)&r->addr)->sin_addr.s_addr);
}

static void literals_and_hosts_without_dns(void **state)
{
    lookup_run r = {0};
    lookup(&r, "192.0.2.9");
    assert_true(r.called && !r.called_during_start);
    assert_int_equal(ipv4_of(&r), 0xc0000209);

    char hosts[] = "/tmp/lkffi-hosts-XXXXXX";
    int fd = mkstemp(hosts);
    const char *text = "# comment\n127.0.0.1 localhost\n::1 ip6-only.test\n198.51.100.4 room.test alias\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    lookup_run h = {.cfg.hosts_path = hosts};
    lookup(&h, "alias");
    assert_int_equal(ipv4_of(&h), 0xc6336404);
    lookup_run six = {.cfg.hosts_path = hosts};
    lookup(&six, "ip6-only.test");
    assert_int_equal(six.addr.ss_family, AF_INET6);
    unlink(hosts);

    lookup_run bad = {0};
    lookup(&bad, "bad..name");
    assert_non_null(strstr(bad.error, "not a valid host name"));
}

static void dns_answers_on_the_ring(void **state)
{
    lookup_run r = {0};
    lookup(&r, "media.test");
    assert_string_equal(r.error, "");
    assert_int_equal(ipv4_of(&r), 0x0a010203);
    assert_int_equal(ntohs(((struct sockaddr_in *)&r.addr)->sin_port), 7880);
}

static void nxdomain_and_silence_are_errors_that_say_so(void **state)
{
    lookup_run nx = {0};
    lookup(&nx, "missing.test");
    assert_non_null(strstr(nx.error, "NXDOMAIN"));
    lookup_run quiet = {0};
    lookup(&quiet, "silent.test");
    assert_non_null(strstr(quiet.error, "no answer"));
}

static void cancel_means_no_callback(void **state)
{
    lookup_run r = {.cancel_at_once = true};
    lookup(&r, "silent.test");
    lookup_run lit = {.cancel_at_once = true};
    lookup(&lit, "192.0.2.1"); /* its answer was already posted as a task */
    usleep(500000);            /* longer than the lookup's whole budget */
    assert_false(r.called);
    assert_false(lit.called);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_layout),
        cmocka_unit_test(answers_with_compression_and_cname),
        cmocka_unit_test(nxdomain_nodata_and_aaaa),
        cmocka_unit_test_setup_teardown(literals_and_hosts_without_dns, setup, teardown),
        cmocka_unit_test_setup_teardown(dns_answers_on_the_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(nxdomain_and_silence_are_errors_that_say_so, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cancel_means_no_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
