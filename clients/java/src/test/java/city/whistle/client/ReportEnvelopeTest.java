package city.whistle.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cloudevents.CloudEvent;
import io.cloudevents.core.provider.EventFormatProvider;
import io.cloudevents.jackson.JsonFormat;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ReportEnvelopeTest {
    static final String CASE = "0b5c1f7e-1f3a-4c8e-9d2a-6f1e2d3c4b5a";
    static final OffsetDateTime AT = OffsetDateTime.of(2024, 5, 1, 8, 30, 0, 123_456_789, ZoneOffset.ofHours(8));
    /** Checked with whistle_common.envelope.decode and the Python CloudEvents Kafka binding. */
    static final String GOLDEN = "{\"specversion\":\"1.0\",\"id\":\"11111111-2222-4333-8444-555555555555\","
            + "\"source\":\"/departments/chengguan\",\"type\":\"dispatch.reported.v1\",\"subject\":\"" + CASE + "\","
            + "\"time\":\"2024-05-01T00:30:00.123+00:00\",\"datacontenttype\":\"application/json\","
            + "\"correlationid\":\"inc-1\",\"data\":{\"case_id\":\"" + CASE + "\",\"dept\":\"chengguan\","
            + "\"kind\":\"resolved\",\"reported_at\":\"2024-05-01T00:30:00.123+00:00\",\"result\":\"已清理占道摊点\"}}";
    /** whistle_common.signing.sign("dev-secret-chengguan", "1714552200", GOLDEN bytes) */
    static final String GOLDEN_SIGNATURE = "32ba55f06e255c9508eeeae1a9bc346b0443f4ec1031be1d19b2ff031223bfd9";
    static final ObjectMapper JSON = new ObjectMapper();

    static byte[] golden() {
        return ReportEnvelope.build(CASE, "chengguan", "resolved", "inc-1", Map.of("result", "已清理占道摊点"),
                "11111111-2222-4333-8444-555555555555", AT);
    }

    @Test
    void buildsTheExactBytesWhistleDecodes() {
        byte[] value = golden();
        assertEquals(GOLDEN, new String(value, StandardCharsets.UTF_8));
        assertEquals(GOLDEN_SIGNATURE, Signing.sign("dev-secret-chengguan", "1714552200", value));
    }

    @Test
    void carriesEveryAttributeWhistleRequires() throws Exception {
        JsonNode event = JSON.readTree(ReportEnvelope.build(CASE, "chengguan", "acknowledged", null, Map.of()));
        for (String attr : List.of("specversion", "id", "source", "type", "subject", "time", "correlationid",
                "datacontenttype")) {
            assertTrue(event.hasNonNull(attr) && !event.get(attr).asText().isEmpty(), attr);
        }
        assertEquals("1.0", event.get("specversion").asText());
        assertEquals("dispatch.reported.v1", event.get("type").asText());
        assertEquals(CASE, event.get("subject").asText());
        assertEquals(CASE, event.get("correlationid").asText()); // defaults to the case id
        assertTrue(Pattern.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\+00:00",
                event.get("time").asText()), event.get("time").asText());
        JsonNode data = event.get("data");
        assertTrue(data.isObject());
        assertEquals("chengguan", data.get("dept").asText());
        assertEquals("acknowledged", data.get("kind").asText());
        assertTrue(!data.has("result"));
    }

    @Test
    void isAValidCloudEventForTheSdkJsonFormat() {
        CloudEvent event = EventFormatProvider.getInstance().resolveFormat(JsonFormat.CONTENT_TYPE)
                .deserialize(golden());
        assertEquals("dispatch.reported.v1", event.getType());
        assertEquals(CASE, event.getSubject());
        assertEquals("inc-1", event.getExtension("correlationid"));
        assertEquals(AT.toInstant().toEpochMilli(), event.getTime().toInstant().toEpochMilli());
        assertNotNull(event.getData());
    }

    @Test
    void refusesUnknownKindsAndResolvedWithoutResult() {
        assertThrows(IllegalArgumentException.class,
                () -> ReportEnvelope.build(CASE, "chengguan", "finished", null, Map.of()));
        assertThrows(IllegalArgumentException.class,
                () -> ReportEnvelope.build(CASE, "chengguan", "resolved", null, Map.of()));
        assertThrows(IllegalArgumentException.class,
                () -> ReportEnvelope.build("", "chengguan", "acknowledged", null, Map.of()));
    }
}
