/* The DPDK API surface bindgen translates (build.rs allowlists rte_*, RTE_* and vr_*). */
#include <rte_eal.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "shim.h"
