package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.OutOfMemoryException;
import io.vramkit.core.memory.PoolSettings;
import io.vramkit.core.memory.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Devices, streams, copies and the CUDA memory resources on a real GPU. Skipped without one. */
@Tag("gpu")
class CudaMemoryGpuTest {

    private static final long[] SIZES = {1, 3, 255, 256, 4096, 65_537, 1 << 20, (8 << 20) + 5};

    @Test
    void devicesReportSaneProperties() {
        GpuTests.assumeGpu();
        assertTrue(Cuda.deviceCount() >= 1);
        CudaDevice d = CudaDevice.get(0);
        assertTrue(d.computeMajor() >= 5, d.toString());
        assertTrue(d.multiProcessorCount() > 0, d.toString());
        assertTrue(!d.name().isBlank(), d.toString());
        CudaDevice.MemoryInfo info = d.memoryInfo();
        assertTrue(info.freeBytes() > 0 && info.freeBytes() <= info.totalBytes(), info.toString());
        assertEquals(d.totalMemoryBytes(), info.totalBytes());
        assertTrue(Cuda.driverVersion() >= Cuda.runtimeVersion(), "status() said the driver is new enough");
        var e = assertThrows(IllegalArgumentException.class, () -> CudaDevice.get(Cuda.deviceCount()));
        assertTrue(e.getMessage().contains("device ordinal must be in [0, " + Cuda.deviceCount() + ")"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CudaStream.create(-1));
    }

    @Test
    void roundTripsThroughCudaMalloc() {
        GpuTests.assumeGpu();
        try (CudaMallocResource dev = new CudaMallocResource(0)) {
            roundTrips(dev);
            assertEquals(0, dev.liveAllocations());
        }
    }

    @Test
    void roundTripsThroughCudaMallocAsync() {
        GpuTests.assumeGpu();
        try (CudaAsyncResource dev = new CudaAsyncResource(0, 64L << 20)) {
            roundTrips(dev);
            assertEquals(0, dev.liveAllocations());
            assertTrue(dev.poolReservedBytes() >= 0);
            dev.trimTo(0);
        }
    }

    /** Alignments above cudaMalloc's 256 bytes are met by over-allocating; frees release the native pointer. */
    @Test
    void alignmentsAboveTheNativeOneAreHonoured() {
        GpuTests.assumeGpu();
        try (CudaStream stream = CudaStream.create(0)) {
            for (DeviceResourceBase dev : new DeviceResourceBase[] {new CudaMallocResource(0),
                    new CudaAsyncResource(0, 0)}) {
                long before = dev.freeBytes();
                for (long align = 256; align <= (1L << 21); align <<= 1) {
                    final long alignment = align;
                    long a = dev.allocate(1000, alignment, stream);
                    long b = dev.allocate(1000, alignment, stream);
                    assertEquals(0, a % alignment, "alignment " + alignment);
                    assertEquals(0, b % alignment, "alignment " + alignment);
                    assertEquals(2, dev.liveAllocations());
                    IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                            () -> dev.deallocate(a, 999, alignment, stream));
                    assertTrue(wrong.getMessage().contains("bytes 999"), wrong.getMessage());
                    dev.deallocate(a, 1000, alignment, stream);
                    dev.deallocate(b, 1000, alignment, stream);
                    assertEquals(0, dev.liveAllocations());
                    assertEquals(0, dev.usedBytes());
                }
                stream.synchronize();
                assertThrows(IllegalArgumentException.class, () -> dev.allocate(16, 1L << 31, stream));
                assertTrue(dev.freeBytes() >= before - (64L << 20), "native memory leaked: " + before + " -> "
                        + dev.freeBytes());
                dev.close();
            }
        }
    }

    /** H2D, D2D, D2H and memset on random data of many sizes and offsets, checked byte for byte. */
    private static void roundTrips(MemoryResource dev) {
        Random rnd = new Random(42);
        try (CudaStream stream = CudaStream.create(0); Arena arena = Arena.ofConfined()) {
            for (long size : SIZES) {
                byte[] data = new byte[(int) size];
                rnd.nextBytes(data);
                MemorySegment src = arena.allocate(size, 64);
                MemorySegment.copy(data, 0, src, ValueLayout.JAVA_BYTE, 0, (int) size);
                MemorySegment back = arena.allocate(size + 16, 64);
                try (Buffer a = Buffer.allocate(dev, size + 16, 256, stream);
                     Buffer b = Buffer.allocate(dev, size + 16, 256, stream)) {
                    assertEquals(MemoryKind.DEVICE, a.resource().kind());
                    stream.fillAsync(a, 0, size + 16, (byte) 0x11);
                    stream.copyToDeviceAsync(src, a, 7);
                    stream.copyAsync(a, 0, b, 0, size + 16);
                    stream.copyToHostAsync(b, 0, back);
                    stream.synchronize();
                    for (int i = 0; i < 7; i++) {
                        assertEquals(0x11, back.get(ValueLayout.JAVA_BYTE, i));
                    }
                    assertArrayEquals(data, back.asSlice(7, size).toArray(ValueLayout.JAVA_BYTE), "size " + size);
                    for (long i = 7 + size; i < size + 16; i++) {
                        assertEquals(0x11, back.get(ValueLayout.JAVA_BYTE, i));
                    }
                    // Bad ranges are refused before any CUDA call, and the stream stays usable.
                    assertThrows(IllegalArgumentException.class, () -> stream.copyToDeviceAsync(src, a, 17));
                    assertThrows(IllegalArgumentException.class, () -> stream.copyAsync(a, 1, b, 0, size + 16));
                    assertThrows(IllegalArgumentException.class, () -> stream.copyToDeviceAsync(
                            MemorySegment.ofArray(data), a, 0));
                    stream.synchronize();
                }
            }
        }
    }

    @Test
    void closedStreamsBuffersAndWrongDevicesAreRefused() {
        GpuTests.assumeGpu();
        try (CudaMallocResource dev = new CudaMallocResource(0); Arena arena = Arena.ofConfined()) {
            CudaStream stream = CudaStream.create(0);
            Buffer buf = Buffer.allocate(dev, 64, 256, stream);
            // Copies past the end are refused before reaching the device, naming the range.
            IllegalArgumentException past = assertThrows(IllegalArgumentException.class,
                    () -> stream.copyToDeviceAsync(arena.allocate(128), buf, 0));
            assertTrue(past.getMessage().contains("64"), past.getMessage());
            assertThrows(IllegalArgumentException.class, () -> stream.copyToHostAsync(buf, 32, arena.allocate(64)));
            assertThrows(IllegalArgumentException.class, () -> stream.fillAsync(buf, 60, 8, (byte) 0));
            buf.close();
            assertThrows(IllegalStateException.class, () -> stream.copyToDeviceAsync(arena.allocate(8), buf, 0));
            stream.close();
            assertThrows(IllegalStateException.class, stream::close);
            assertThrows(IllegalStateException.class, stream::synchronize);
            assertThrows(IllegalStateException.class, stream::recordTimed);
            // A closed stream answers record() with views of the event close() recorded after its last work.
            CudaEvent last = stream.record();
            CudaEvent again = stream.record();
            last.synchronize();
            assertTrue(last.isComplete());
            last.close();
            assertThrows(IllegalStateException.class, last::isComplete);
            assertTrue(again.isComplete(), "closing one view leaves the others");
            again.close();
            assertThrows(IllegalArgumentException.class, () -> dev.deallocate(0x1234, 64, 256, Stream.HOST));
            assertThrows(IllegalArgumentException.class, () -> dev.allocate(64, 1L << 31, Stream.HOST));
            assertEquals(0, dev.liveAllocations());
        }
    }

    @Test
    void eventsTrackCompletion() {
        GpuTests.assumeGpu();
        try (CudaMallocResource dev = new CudaMallocResource(0); CudaStream stream = CudaStream.create(0);
             Buffer big = Buffer.allocate(dev, 256L << 20, 256, stream)) {
            CudaEvent start = stream.recordTimed();
            stream.fillAsync(big, 0, big.byteSize(), (byte) 1);
            CudaEvent end = stream.recordTimed();
            end.synchronize();
            assertTrue(end.isComplete());
            assertTrue(end.elapsedMillisSince(start) >= 0);
            start.close();
            end.close();
            assertThrows(IllegalStateException.class, end::close);
            assertThrows(IllegalStateException.class, end::isComplete);
        }
    }

    @Test
    void cachingPoolFencesStreamsOnlyWhenAnotherStreamNeedsTheirMemoryEvenAfterTheyClose() {
        GpuTests.assumeGpu();
        try (CudaMallocResource dev = new CudaMallocResource(0); CudaStream other = CudaStream.create(0)) {
            CachingPool pool = new CachingPool(dev, PoolSettings.builder().smallSizeBytes(2 << 20).build());
            CudaStream s = CudaStream.create(0);
            Buffer a = Buffer.allocate(pool, 2 << 20, 256, s);
            s.fillAsync(a, 0, a.byteSize(), (byte) 7);
            long address = a.address();
            a.close();
            Buffer same = Buffer.allocate(pool, 2 << 20, 256, s);
            assertEquals(address, same.address(), "the freeing stream reuses its block at once");
            same.close();
            s.close();
            Buffer onOther = Buffer.allocate(pool, 2 << 20, 256, other);
            onOther.close();
            other.synchronize();
            assertEquals(0, pool.allocatedBytes());
            pool.trim();
            assertEquals(0, pool.reservedBytes(), "trim fenced the closed stream and waited");
            pool.close();
        }
    }

    @Test
    void cachingPoolOverCudaMallocKeepsStatisticsAndDiagnosesOom() {
        GpuTests.assumeGpu();
        try (CudaMallocResource dev = new CudaMallocResource(0)) {
            cachingPool(dev);
        }
    }

    @Test
    void cachingPoolOverCudaMallocAsyncKeepsStatisticsAndDiagnosesOom() {
        GpuTests.assumeGpu();
        try (CudaAsyncResource dev = new CudaAsyncResource(0)) {
            cachingPool(dev);
        }
    }

    private static void cachingPool(MemoryResource dev) {
        try (CudaStream stream = CudaStream.create(0)) {
            CachingPool pool = new CachingPool(dev);
            Buffer a = Buffer.allocate(pool, 1 << 20, 256, stream);
            Buffer b = Buffer.allocate(pool, 3 << 20, 256, stream);
            long upstream = pool.statistics().upstreamAllocations();
            assertTrue(upstream >= 1);
            a.close();
            Buffer c = Buffer.allocate(pool, 1 << 20, 256, stream);
            assertEquals(upstream, pool.statistics().upstreamAllocations(), "served from the cache");
            assertEquals(pool.capacityBytes(), dev.capacityBytes(), "device total feeds the pool's diagnosis");
            long allocated = pool.allocatedBytes();
            long tooMuch = dev.capacityBytes() * 2;
            OutOfMemoryException oom = assertThrows(OutOfMemoryException.class,
                    () -> Buffer.allocate(pool, tooMuch, 256, stream));
            assertEquals(tooMuch, oom.requestedBytes());
            assertEquals(1, pool.statistics().ooms());
            assertEquals(allocated, pool.allocatedBytes(), "a failed allocation changes nothing");
            Buffer d = Buffer.allocate(pool, 2 << 20, 256, stream);
            d.close();
            b.close();
            c.close();
            stream.synchronize();
            pool.trim();
            pool.close();
        }
    }

    @Test
    void deviceOomIsCoresOutOfMemoryWithTheDevicesNumbers() {
        GpuTests.assumeGpu();
        try (CudaMallocResource dev = new CudaMallocResource(0)) {
            OutOfMemoryException e = assertThrows(OutOfMemoryException.class,
                    () -> dev.allocate(dev.capacityBytes() * 4, 256, Stream.HOST));
            assertTrue(e.getMessage().contains("free of"), e.getMessage());
            assertTrue(e.getCause() instanceof CudaException ce && ce.code() == 2, String.valueOf(e.getCause()));
            long address = dev.allocate(4096, 256, Stream.HOST);
            dev.deallocate(address, 4096, 256, Stream.HOST);
        }
    }

    @Test
    void pinnedBlocksAreReusedOnlyAfterTheirCopiesFinish() {
        GpuTests.assumeGpu();
        long bytes = 64L << 20;
        try (PinnedHostResource pinned = new PinnedHostResource(1L << 30);
             CudaMallocResource dev = new CudaMallocResource(0);
             CudaStream stream = CudaStream.create(0);
             Buffer target = Buffer.allocate(dev, bytes, 256, stream)) {
            long first;
            try (Buffer staging = Buffer.allocate(pinned, bytes, 4096, stream)) {
                first = staging.address();
                staging.segment().fill((byte) 3);
                for (int i = 0; i < 8; i++) {
                    stream.copyAsync(staging, 0, target, 0, bytes);
                }
            }
            long second = pinned.allocate(bytes, 4096, stream);
            if (pinned.blocksSkippedAsBusy() > 0) {
                assertNotEquals(first, second, "a block with a copy in flight must not be handed out");
            }
            stream.synchronize();
            long third = pinned.allocate(bytes, 4096, stream);
            assertTrue(third == first || second == first, "the block is reused once its copy completed");
            pinned.deallocate(second, bytes, 4096, stream);
            pinned.deallocate(third, bytes, 4096, stream);
            stream.synchronize();
            assertTrue(pinned.hits() >= 1, pinned.toString());
        }
    }
}
