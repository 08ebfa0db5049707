/*
 * Exported wrappers around DPDK's static inline functions, which have no symbol of their
 * own. Compiled by build.rs (cc) with DPDK's cflags; bindgen reads these prototypes too, so
 * the C and Rust sides cannot disagree.
 */
#ifndef VROUTER_DPDK_SHIM_H
#define VROUTER_DPDK_SHIM_H

#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

/* rte_eth_rx_burst */
uint16_t vr_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
/* rte_eth_tx_burst */
uint16_t vr_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
/* rte_pktmbuf_alloc */
struct rte_mbuf *vr_pktmbuf_alloc(struct rte_mempool *mp);
/* rte_pktmbuf_free (the whole chain) */
void vr_pktmbuf_free(struct rte_mbuf *m);
/* rte_pktmbuf_linearize: 0, or -1 if the chain does not fit in the first segment */
int vr_pktmbuf_linearize(struct rte_mbuf *m);
/* rte_errno of the calling thread */
int vr_rte_errno(void);
/* rte_get_tsc_cycles */
uint64_t vr_get_tsc_cycles(void);
/* rte_lcore_id: the calling thread's lcore, LCORE_ID_ANY for a non-EAL thread */
unsigned int vr_lcore_id(void);

#endif
