package io.vramkit.examples.simulate;

import io.vramkit.core.planner.ByteUnits;
import io.vramkit.core.planner.ModelPresets;
import io.vramkit.core.scheduler.AdmissionPolicy;
import io.vramkit.examples.plan.PlanCommandTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServingSimulatorTest {

    private static ServingSimulator.Result sim(Workload w, KvLayout layout, AdmissionPolicy policy, double kvGib) {
        return new ServingSimulator(ServingSimulator.Config.defaults(layout, policy, ModelPresets.get("llama-2-7b"),
                (long) (kvGib * ByteUnits.GIB))).run(w);
    }

    @Test
    void workloadsHaveThePublishedMeans() {
        Workload share = new Workload(Workload.Kind.SHAREGPT, 4000, 5, false, 2048, 3);
        assertEquals(161, share.meanPromptTokens(), 161 * 0.08);
        assertEquals(338, share.meanOutputTokens(), 338 * 0.08);
        Workload alpaca = new Workload(Workload.Kind.ALPACA, 4000, 5, true, 2048, 3);
        assertEquals(19, alpaca.meanPromptTokens(), 19 * 0.08);
        assertEquals(58, alpaca.meanOutputTokens(), 58 * 0.08);
        // Poisson: mean gap 1 / rate
        var items = share.items();
        double span = items.get(items.size() - 1).arrivalSeconds();
        assertEquals(4000 / 5.0, span, 800 * 0.1);
    }

    @Test
    void pagedWasteIsUnder4PercentAndContiguousOver50() {
        Workload w = new Workload(Workload.Kind.SHAREGPT, 250, 6, false, 2048, 7);
        ServingSimulator.Result paged = sim(w, KvLayout.PAGED, AdmissionPolicy.optimistic(), 4);
        ServingSimulator.Result contiguous = sim(w, KvLayout.CONTIGUOUS, AdmissionPolicy.optimistic(), 4);
        assertTrue(paged.kvWasteFraction() < 0.04, "paged waste " + paged.kvWasteFraction());
        assertTrue(contiguous.kvWasteFraction() > 0.5, "contiguous waste " + contiguous.kvWasteFraction());
        assertEquals(250, paged.completed());
        assertEquals(250, contiguous.completed());
        assertTrue(paged.throughputTokensPerSecond() > 1.5 * contiguous.throughputTokensPerSecond(),
                paged.throughputTokensPerSecond() + " vs " + contiguous.throughputTokensPerSecond());
    }

    @Test
    void noEvictHasNoFailuresAt95PercentKvUtilization() {
        Workload w = new Workload(Workload.Kind.SHAREGPT, 250, 20, false, 2048, 11);
        ServingSimulator.Result r = sim(w, KvLayout.PAGED, AdmissionPolicy.noEvict(), 2);
        assertTrue(r.peakReservedUtilization() >= 0.95, "peak reserved " + r.peakReservedUtilization());
        assertEquals(0, r.failed());
        assertEquals(0, r.preemptions());
        assertEquals(250, r.completed());
    }

    @Test
    void prefixSharingAndCompressionHelp() {
        Workload w = new Workload(Workload.Kind.SHAREGPT, 200, 8, true, 2048, 5);
        ServingSimulator.Result paged = sim(w, KvLayout.PAGED, AdmissionPolicy.optimistic(), 2);
        ServingSimulator.Result prefix = sim(w, KvLayout.PAGED_PREFIX, AdmissionPolicy.optimistic(), 2);
        ServingSimulator.Result compress = sim(w, KvLayout.PAGED_COMPRESS, AdmissionPolicy.optimistic(), 2);
        assertTrue(prefix.prefixHitTokens() > 0);
        assertEquals(0, paged.prefixHitTokens());
        assertTrue(compress.compressedBlocks() > 0);
        assertTrue(compress.preemptions() < paged.preemptions(), compress.preemptions() + " vs "
                + paged.preemptions());
        Workload a = new Workload(Workload.Kind.ALPACA, 300, 40, false, 2048, 5);
        ServingSimulator.Result alpaca = sim(a, KvLayout.PAGED, AdmissionPolicy.reservePredicted(), 1);
        assertEquals(300, alpaca.completed());
    }

    @Test
    void compressionErrorIsMeasuredWithTheAttentionModule() {
        CompressionErrorProbe.Result p = CompressionErrorProbe.run(2, 128, 3);
        assertTrue(p.relativeErrorUncompressed() < 1e-4, "FP16 path " + p.relativeErrorUncompressed());
        assertTrue(p.relativeErrorCompressed() > p.relativeErrorUncompressed());
        assertTrue(p.relativeErrorCompressed() < 0.03, "INT8 cold blocks " + p.relativeErrorCompressed());
        assertTrue(p.compressedFraction() > 0.3, "compressed " + p.compressedFraction());
    }

    @Test
    void cliWritesJsonAndASelfContainedReport(@TempDir Path dir) throws Exception {
        Path html = dir.resolve("r.html");
        PlanCommandTest.Run r = PlanCommandTest.run("simulate", "--workload", "sharegpt", "--kv-layout",
                "paged-compress", "--requests", "120", "--rate", "8", "--json", "--html", html.toString());
        assertEquals(0, r.code(), r.err());
        String j = r.out().trim();
        for (String f : new String[] {"kvWasteFraction", "throughputTokensPerSecond", "preemptions", "completed",
            "failed", "compressionAttentionRelativeError"}) {
            assertTrue(j.contains("\"" + f + "\":"), f + " missing in " + j);
        }
        assertEquals(120, PlanCommandTest.field(j, "completed"));
        String page = Files.readString(html);
        assertTrue(page.contains("<svg") && page.contains("<polyline") && page.contains("KV memory"));
        assertTrue(!page.contains("<script") && !page.contains("http://") || page.contains("xmlns=\"http://www.w3"),
                "self-contained");
        Path all = dir.resolve("all.html");
        PlanCommandTest.Run cmp = PlanCommandTest.run("simulate", "--workload", "alpaca", "--kv-layout", "all",
                "--requests", "60", "--json", "--html", all.toString());
        assertEquals(0, cmp.code(), cmp.err());
        for (KvLayout l : KvLayout.values()) {
            assertTrue(cmp.out().contains("\"" + l.cliName() + "\":{"), l + " missing in " + cmp.out());
        }
        assertTrue(Files.readString(all).contains("<h2>contiguous"), "the comparative report has every layout");
        PlanCommandTest.Run bad = PlanCommandTest.run("simulate", "--kv-layout", "ring");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("contiguous, paged, paged-prefix or paged-compress"), bad.err());
    }
}
