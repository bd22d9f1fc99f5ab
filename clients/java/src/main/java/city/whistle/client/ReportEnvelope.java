package city.whistle.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * One {@code dispatch.reported.v1} report as CloudEvents 1.0 structured JSON: the bytes that
 * are both signed and sent as the record value (libs/common/whistle_common/envelope.py decodes
 * them: specversion, id, source, type, subject, time, correlationid required; data an object;
 * time RFC 3339 with seconds and a UTC offset).
 */
public final class ReportEnvelope {
    public static final String TYPE = "dispatch.reported.v1";
    public static final String CONTENT_TYPE = "application/cloudevents+json; charset=utf-8";
    public static final List<String> KINDS =
            List.of("acknowledged", "arrived", "resolved", "returned", "extension_requested");
    /** Like Python's datetime.isoformat(): 2024-05-01T08:30:00.123+00:00 */
    static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSxxx");
    private static final ObjectMapper JSON = new ObjectMapper();

    private ReportEnvelope() {
    }

    /** The envelope bytes, with a fresh id and the current time. */
    public static byte[] build(String caseId, String dept, String kind, String correlationId,
                               Map<String, ?> fields) {
        return build(caseId, dept, kind, correlationId, fields, UUID.randomUUID().toString(),
                OffsetDateTime.now(ZoneOffset.UTC));
    }

    /**
     * The envelope bytes. {@code fields} adds to data: {@code result} for resolved,
     * {@code reason} for returned, {@code extension_hours} for extension_requested.
     */
    public static byte[] build(String caseId, String dept, String kind, String correlationId,
                               Map<String, ?> fields, String id, OffsetDateTime now) {
        if (!KINDS.contains(kind)) {
            throw new IllegalArgumentException("kind must be one of " + KINDS + ", got " + kind);
        }
        if (caseId == null || caseId.isEmpty() || dept == null || dept.isEmpty()) {
            throw new IllegalArgumentException("case id and dept are required");
        }
        if ("resolved".equals(kind) && (fields == null || fields.get("result") == null)) {
            throw new IllegalArgumentException("a resolved report needs a result");
        }
        String time = now.withOffsetSameInstant(ZoneOffset.UTC).truncatedTo(ChronoUnit.MILLIS).format(TIME);
        ObjectNode event = JSON.createObjectNode();
        event.put("specversion", "1.0");
        event.put("id", id);
        event.put("source", "/departments/" + dept);
        event.put("type", TYPE);
        event.put("subject", caseId);
        event.put("time", time);
        event.put("datacontenttype", "application/json");
        event.put("correlationid", correlationId == null || correlationId.isEmpty() ? caseId : correlationId);
        ObjectNode data = event.putObject("data");
        data.put("case_id", caseId);
        data.put("dept", dept);
        data.put("kind", kind);
        data.put("reported_at", time);
        if (fields != null) {
            fields.forEach((k, v) -> data.set(k, JSON.valueToTree(v)));
        }
        try {
            return JSON.writeValueAsBytes(event); // UTF-8, non-ASCII unescaped
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
