#version 450
// RMS / layer norm with the sum of squares in double (see norm.glsl).
#define F64 1
#include "norm.glsl"
