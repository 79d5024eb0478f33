/* The floating type of the layers. The library builds them for float; the gradcheck
 * tests build the same sources again with -DAMEIR_REAL_DOUBLE so that finite
 * differences are taken in double precision. */
#ifndef AMEIR_REAL_H
#define AMEIR_REAL_H

#include <cblas.h>

#ifdef AMEIR_REAL_DOUBLE
typedef double real;
#define AMEIR_GEMM cblas_dgemm
#define AMEIR_GEMV cblas_dgemv
#define AMEIR_AXPY cblas_daxpy
#define AMEIR_EXP exp
#define AMEIR_LOG log
#define AMEIR_TANH tanh
#define AMEIR_ERF erf
#define AMEIR_SQRT sqrt
#define AMEIR_FABS fabs
#else
typedef float real;
#define AMEIR_GEMM cblas_sgemm
#define AMEIR_GEMV cblas_sgemv
#define AMEIR_AXPY cblas_saxpy
#define AMEIR_EXP expf
#define AMEIR_LOG logf
#define AMEIR_TANH tanhf
#define AMEIR_ERF erff
#define AMEIR_SQRT sqrtf
#define AMEIR_FABS fabsf
#endif

#endif
