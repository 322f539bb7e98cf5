#version 450
// RMS / layer norm without double arithmetic (see norm.glsl).
#include "norm.glsl"
