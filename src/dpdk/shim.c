/* Exported wrappers around DPDK's static inline functions; see shim.h. */
#include "shim.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>

uint16_t vr_eth_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t vr_eth_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

struct rte_mbuf *vr_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

void vr_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

int vr_pktmbuf_linearize(struct rte_mbuf *m)
{
	return rte_pktmbuf_linearize(m);
}

int vr_rte_errno(void)
{
	return rte_errno;
}

uint64_t vr_get_tsc_cycles(void)
{
	return rte_get_tsc_cycles();
}

unsigned int vr_lcore_id(void)
{
	return rte_lcore_id();
}
