package city.whistle.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cloudevents.CloudEvent;
import io.cloudevents.CloudEventData;
import io.cloudevents.core.format.EventFormat;
import io.cloudevents.core.provider.EventFormatProvider;
import io.cloudevents.jackson.JsonFormat;
import io.cloudevents.kafka.CloudEventDeserializer;
import io.cloudevents.rw.CloudEventRWException;
import java.io.IOException;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/** What a department needs of one {@code dispatch.ordered.v1} event. */
public record Order(String eventId, String type, String caseId, String role, String correlationId,
                    JsonNode data) {
    public static final String TYPE = "dispatch.ordered.v1";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final CloudEventDeserializer DESERIALIZER = new CloudEventDeserializer();
    private static final EventFormat JSON_FORMAT;

    static {
        DESERIALIZER.configure(Map.of(), false);
        EventFormat format = EventFormatProvider.getInstance().resolveFormat(JsonFormat.CONTENT_TYPE);
        JSON_FORMAT = format != null ? format : new JsonFormat();
    }

    /**
     * A record value as a CloudEvent, through the SDK's Kafka {@link CloudEventDeserializer}:
     * structured mode when the {@code content-type} header is {@code application/cloudevents+json},
     * binary mode with {@code ce_*} headers. A record with neither header is read as structured
     * JSON (what Whistle published before it set the header).
     */
    public static CloudEvent decode(String topic, Headers headers, byte[] value) {
        if (value == null) {
            throw new IllegalArgumentException("empty record value");
        }
        try {
            if (headers.lastHeader("content-type") == null && !hasCeHeader(headers)) {
                return JSON_FORMAT.deserialize(value);
            }
            return DESERIALIZER.deserialize(topic, headers, value);
        } catch (CloudEventRWException e) {
            throw new IllegalArgumentException("not a CloudEvent: " + e.getMessage(), e);
        }
    }

    private static boolean hasCeHeader(Headers headers) {
        for (Header h : headers) {
            if (h.key().toLowerCase(Locale.ROOT).startsWith("ce_")) {
                return true;
            }
        }
        return false;
    }

    /** The order carried by a CloudEvent; data must be a JSON object. */
    public static Order of(CloudEvent event) {
        CloudEventData raw = event.getData();
        JsonNode data;
        try {
            data = raw == null ? JSON.createObjectNode() : JSON.readTree(raw.toBytes());
        } catch (IOException e) {
            throw new IllegalArgumentException("data is not JSON: " + e.getMessage(), e);
        }
        if (data == null || !data.isObject()) {
            throw new IllegalArgumentException("data is not a JSON object");
        }
        String caseId = data.path("case_id").asText("");
        if (caseId.isEmpty()) {
            caseId = event.getSubject() == null ? "" : event.getSubject();
        }
        Object correlation = event.getExtension("correlationid");
        return new Order(event.getId(), event.getType(), caseId, data.path("role").asText(""),
                correlation == null ? caseId : correlation.toString(), data);
    }

    public boolean isOrder() {
        return TYPE.equals(type);
    }
}
