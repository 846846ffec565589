// dptrain: train multi-layer perceptrons with backpropagation and mini-batch SGD, data-parallel
// across the cores of one machine. Users include only this header.
#ifndef DPTRAIN_DPTRAIN_H
#define DPTRAIN_DPTRAIN_H

#include "core.h"
#include "data.h"
#include "io.h"
#include "optim.h"
#include "parallel.h"

#endif
