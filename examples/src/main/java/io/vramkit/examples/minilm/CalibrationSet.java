package io.vramkit.examples.minilm;

import java.util.List;

/**
 * The sentences whose FP32 activations calibrate the demo's 4-bit rows ({@link LayerCalibration}): 411 sentences
 * written for this purpose (62 here, the rest in {@link #EXTRA_RESOURCE}), none of them in the default evaluation
 * set ({@link SentenceSet#defaults()}; a test checks that), with the same mix of everyday text, reviews, questions,
 * numbers, code, logs, several languages, very short and long inputs. Stateless.
 */
final class CalibrationSet {

    private CalibrationSet() {
    }

    /** Classpath location of the calibration sentences beyond the 62 written here, one per line. */
    static final String EXTRA_RESOURCE = "io/vramkit/examples/minilm/calibration-extra.txt";

    /**
     * The calibration sentences, in a fixed order: the 62 below, then those of {@link #EXTRA_RESOURCE}; an immutable
     * list.
     *
     * @throws IllegalStateException if the resource is missing
     */
    static List<String> sentences() {
        List<String> all = new java.util.ArrayList<>(SENTENCES);
        try (java.io.InputStream in = CalibrationSet.class.getClassLoader().getResourceAsStream(EXTRA_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + EXTRA_RESOURCE + " is missing from the classpath");
            }
            all.addAll(SentenceSet.parse(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8),
                    EXTRA_RESOURCE));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("reading " + EXTRA_RESOURCE, e);
        }
        return List.copyOf(all);
    }

    private static final List<String> SENTENCES = List.of(
            "The bakery on the corner sells out of rye bread before nine every Saturday morning.",
            "My neighbour's cat has learned to open the kitchen door by hanging from the handle.",
            "We postponed the picnic because the forecast promised thunderstorms all afternoon.",
            "Could you send me the slides from yesterday's meeting before lunch?",
            "She finally finished knitting the blue scarf she started three winters ago.",
            "The train to Lyon was delayed by forty minutes because of a signal failure near Dijon.",
            "He keeps a notebook of every bird he has seen since he was eleven years old.",
            "Turn left at the second roundabout and the museum entrance is on your right.",
            "The soup needs more salt, a squeeze of lemon and a handful of chopped parsley.",
            "Our team shipped the new release on Friday and spent the weekend fixing one stubborn bug.",
            "A glass of water on the nightstand is all I need to sleep well.",
            "The orchestra rehearsed the second movement until the violins were perfectly in tune.",
            "Children in the village walk two kilometres to school along the river path.",
            "The quarterly report shows revenue of 4.7 million euros, up 12 percent year over year.",
            "Mix 250 grams of flour with 2 eggs, 300 ml of milk and a pinch of salt.",
            "The flight departs at 06:45 from gate B17 and lands at 09:20 local time.",
            "Invoice #88213 was paid on 2024-03-14 by bank transfer.",
            "The server answered with HTTP 503 for 17 seconds during the deployment.",
            "A hexagon has six sides, and the sum of its interior angles is 720 degrees.",
            "def median(xs): s = sorted(xs); n = len(s); return (s[n // 2] + s[(n - 1) // 2]) / 2",
            "SELECT customer_id, SUM(amount) FROM orders WHERE status = 'paid' GROUP BY customer_id;",
            "for (int i = 0; i < n; i++) { total += weights[i] * inputs[i]; }",
            "git rebase --interactive HEAD~3 lets you squash the last three commits into one.",
            "ERROR 2024-05-02T10:15:33Z worker-7 connection reset by peer after 3 retries",
            "The function returns null when the cache misses, so callers must check before dereferencing.",
            "Gradient descent takes small steps against the slope of the loss to find a minimum.",
            "Photosynthesis turns sunlight, water and carbon dioxide into sugar and oxygen.",
            "The treaty was signed in 1648 and ended three decades of war in central Europe.",
            "Volcanic soil is fertile, which is why farms crowd the slopes of many active volcanoes.",
            "Antibiotics do not work against viruses, only against bacteria.",
            "The judge adjourned the hearing until the defence could examine the new evidence.",
            "Interest rates rose for the fourth time this year as inflation stayed above target.",
            "Der Zug nach München fährt heute wegen Bauarbeiten von Gleis sieben ab.",
            "Il pleut depuis trois jours et la rivière commence à déborder dans les champs.",
            "El mercado abre a las ocho y las mejores frutas se venden antes del mediodía.",
            "La biblioteca comunale resterà chiusa per lavori fino alla fine del mese.",
            "O restaurante da esquina serve o melhor bacalhau da cidade às sextas-feiras.",
            "De fietsenmaker repareerde mijn lekke band in minder dan tien minuten.",
            "Я забыл зонтик в автобусе и промок до нитки по дороге домой.",
            "東京の地下鉄は朝のラッシュ時にとても混雑します。",
            "我们明天早上九点在图书馆门口见面。",
            "서울의 겨울은 춥지만 하늘은 자주 맑습니다.",
            "Kahvaltıda peynir, zeytin ve taze ekmek yemeyi severim.",
            "Ok.",
            "Thanks!",
            "See you tomorrow at noon.",
            "Why not?",
            "Battery low: 5%.",
            "The committee reviewed every application carefully, weighing academic records, letters of recommendation, personal statements and interviews, and in the end it admitted fewer students than in any previous year because the new laboratory would not be finished in time to host the larger cohort that had been planned.",
            "When the storm knocked out the power across the valley, the hospital switched to its diesel generators within seconds, the neighbours gathered in the school gym with blankets and thermoses of tea, and the volunteer fire brigade spent the night clearing fallen trees from the only road leading to the pass.",
            "Modern compilers inline small functions, unroll short loops, hoist invariant computations out of loops and vectorize arithmetic over arrays, which is why a straightforward loop written clearly often runs as fast as a hand-tuned version that is much harder to read and maintain.",
            "The novel follows three generations of a fishing family on a windswept island, from the grandmother who rowed to the mainland to sell her catch, to the son who left for the city and never returned, to the granddaughter who comes back to sell the house and decides to stay.",
            "Before you submit the form, check that your name matches your passport exactly, that the dates of travel are in day-month-year order, and that the photo was taken within the last six months against a plain white background.",
            "Is it cheaper to take the ferry or to drive around the bay?",
            "The recipe calls for buttermilk, but plain yoghurt thinned with a little milk works just as well.",
            "My phone keeps disconnecting from the car's Bluetooth whenever I get a call.",
            "The hikers reached the summit at dawn and watched the fog lift from the lake below.",
            "A good password is long, unique to each site and stored in a password manager.",
            "The museum's new wing displays ceramics from the Ming dynasty alongside contemporary pottery.",
            "Please restart the router and wait two minutes before trying to connect again.",
            "The referee showed a red card in the 89th minute, and the home crowd went silent.",
            "Solar panels on the school roof now cover about a third of its electricity use.");
}
