/** Devices, dtypes and the types every vramkit module shares. */
package io.vramkit.core;
