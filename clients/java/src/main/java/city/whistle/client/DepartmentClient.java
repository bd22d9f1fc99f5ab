package city.whistle.client;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Consumes {@code dispatch.orders.<dept>} and, for each {@code dispatch.ordered.v1}, sends a
 * signed {@code acknowledged} report and then a {@code resolved} one to {@code dispatch.reports}.
 *
 * <p>Record values are decoded by {@link Order#decode}, through the SDK's Kafka
 * CloudEventDeserializer (structured mode: header {@code content-type:
 * application/cloudevents+json}; binary mode: {@code ce_*} headers). Reports go out in structured
 * mode too, keyed by case id, signed over the exact value bytes (see {@link Signing}).
 */
public final class DepartmentClient implements AutoCloseable {
    public static final String REPORTS_TOPIC = "dispatch.reports";

    /** Run options; see {@link Main} for the command line. */
    public record Options(String bootstrap, String dept, String secret, String group, String onlyCase,
                          int max, Duration timeout, boolean fromBeginning, boolean commit, String result) {
    }

    private final Options opts;
    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final PrintStream out;

    public DepartmentClient(Options opts, PrintStream out) {
        this.opts = opts;
        this.out = out;
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, opts.bootstrap());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, opts.group());
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, opts.fromBeginning() ? "earliest" : "latest");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, "java-dept-" + opts.dept());
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());

        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, opts.bootstrap());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "java-dept-" + opts.dept() + "-reports");
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    public String topic() {
        return "dispatch.orders." + opts.dept();
    }

    /** Handle orders until max are done or the timeout passes; returns how many were handled. */
    public int run() {
        consumer.subscribe(List.of(topic()));
        long deadline = opts.timeout().isZero() ? Long.MAX_VALUE
                : System.nanoTime() + opts.timeout().toNanos();
        int handled = 0;
        try {
            while (handled < opts.max() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> rec : consumer.poll(Duration.ofMillis(500))) {
                    if (handle(rec)) {
                        handled++;
                    }
                    if (opts.commit()) {
                        consumer.commitSync(Map.of(new TopicPartition(rec.topic(), rec.partition()),
                                new OffsetAndMetadata(rec.offset() + 1)));
                    }
                    if (handled >= opts.max()) {
                        break;
                    }
                }
            }
        } catch (WakeupException e) {
            // close() from the shutdown hook
        }
        return handled;
    }

    /** Whether the record was an order this run handled (reported on). */
    boolean handle(ConsumerRecord<String, byte[]> rec) {
        String where = rec.topic() + "/" + rec.partition() + "@" + rec.offset();
        Order order;
        try {
            order = Order.of(Order.decode(rec.topic(), rec.headers(), rec.value()));
        } catch (RuntimeException e) {
            System.err.println("skipped undecodable record " + where + ": " + e.getMessage());
            return false;
        }
        if (!order.isOrder() || order.caseId().isEmpty()) {
            return false;
        }
        if (opts.onlyCase() != null && !opts.onlyCase().equals(order.caseId())) {
            return false;
        }
        report(order, "acknowledged", Map.of());
        report(order, "resolved", Map.of("result", opts.result()));
        out.printf("%s dept=%s case=%s role=%s order=%s at=%s reported=acknowledged,resolved%n",
                Instant.now(), opts.dept(), order.caseId(), order.role(), order.eventId(), where);
        out.flush();
        return true;
    }

    /** Send one signed report and wait for Kafka to acknowledge it. */
    void report(Order order, String kind, Map<String, ?> fields) {
        byte[] value = ReportEnvelope.build(order.caseId(), opts.dept(), kind, order.correlationId(), fields);
        ProducerRecord<String, byte[]> rec = new ProducerRecord<>(REPORTS_TOPIC, order.caseId(), value);
        rec.headers().add("content-type", ReportEnvelope.CONTENT_TYPE.getBytes(StandardCharsets.UTF_8));
        Signing.headers(opts.dept(), opts.secret(), value, Instant.now().getEpochSecond())
                .forEach((k, v) -> rec.headers().add(k, v.getBytes(StandardCharsets.UTF_8)));
        try {
            producer.send(rec).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted sending " + kind, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("report " + kind + " on " + order.caseId() + " not sent: " + e, e);
        }
    }

    public void wakeup() {
        consumer.wakeup();
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
        producer.close(Duration.ofSeconds(10));
    }
}
