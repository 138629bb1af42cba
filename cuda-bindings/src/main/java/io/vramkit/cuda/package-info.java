/** The idiomatic CUDA layer: devices, streams, events, copies, memory resources, cuBLAS and kernel modules. */
package io.vramkit.cuda;
