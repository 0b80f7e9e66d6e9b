/*
 * histogram.c: the buckets' bounds.
 */
#include "core/histogram.h"

const double histogram_le[HISTOGRAM_NBUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2,
                                                 0.25,  0.5,   1,    2.5,   5,    10};
