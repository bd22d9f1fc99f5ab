package city.whistle.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

class OrderTest {
    /** An order as whistle_common.envelope encodes it (Python's json.dumps separators). */
    static final byte[] ORDER = ("{\"specversion\": \"1.0\", \"id\": \"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\", "
            + "\"source\": \"/services/dispatch\", \"type\": \"dispatch.ordered.v1\", \"subject\": \"case-42\", "
            + "\"time\": \"2024-05-01T08:30:00Z\", \"datacontenttype\": \"application/json\", "
            + "\"correlationid\": \"incident-7\", \"data\": {\"case_id\": \"case-42\", \"dept\": \"chengguan\", "
            + "\"role\": \"lead\", \"category\": \"street_vending\", \"deadlines\": {\"ack_by\": "
            + "\"2024-05-01T09:00:00+00:00\", \"resolve_by\": \"2024-05-02T08:30:00+00:00\"}, "
            + "\"reporter_phone\": \"138****1234\"}}").getBytes(StandardCharsets.UTF_8);

    static RecordHeaders structured() {
        RecordHeaders headers = new RecordHeaders();
        headers.add("content-type", ReportEnvelope.CONTENT_TYPE.getBytes(StandardCharsets.UTF_8));
        return headers;
    }

    static void assertOrder(Order order) {
        assertTrue(order.isOrder());
        assertEquals("case-42", order.caseId());
        assertEquals("lead", order.role());
        assertEquals("incident-7", order.correlationId());
        assertEquals("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", order.eventId());
        assertEquals("2024-05-02T08:30:00+00:00", order.data().path("deadlines").path("resolve_by").asText());
    }

    @Test
    void decodesStructuredModeThroughTheCloudEventDeserializer() {
        assertOrder(Order.of(Order.decode("dispatch.orders.chengguan", structured(), ORDER)));
    }

    @Test
    void decodesABareJsonValueWithoutBindingHeaders() {
        assertOrder(Order.of(Order.decode("dispatch.orders.chengguan", new RecordHeaders(), ORDER)));
    }

    @Test
    void decodesBinaryMode() {
        RecordHeaders headers = new RecordHeaders();
        headers.add("ce_specversion", "1.0".getBytes(StandardCharsets.UTF_8));
        headers.add("ce_id", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee".getBytes(StandardCharsets.UTF_8));
        headers.add("ce_source", "/services/dispatch".getBytes(StandardCharsets.UTF_8));
        headers.add("ce_type", "dispatch.ordered.v1".getBytes(StandardCharsets.UTF_8));
        headers.add("ce_subject", "case-42".getBytes(StandardCharsets.UTF_8));
        headers.add("ce_correlationid", "incident-7".getBytes(StandardCharsets.UTF_8));
        headers.add("content-type", "application/json".getBytes(StandardCharsets.UTF_8));
        byte[] data = ("{\"case_id\": \"case-42\", \"role\": \"lead\", \"deadlines\": "
                + "{\"resolve_by\": \"2024-05-02T08:30:00+00:00\"}}").getBytes(StandardCharsets.UTF_8);
        assertOrder(Order.of(Order.decode("dispatch.orders.chengguan", headers, data)));
    }

    @Test
    void otherTypesAreNotOrders() {
        byte[] other = new String(ORDER, StandardCharsets.UTF_8).replace("dispatch.ordered.v1", "case.created.v1")
                .getBytes(StandardCharsets.UTF_8);
        assertFalse(Order.of(Order.decode("t", structured(), other)).isOrder());
    }

    @Test
    void refusesWhatIsNotACloudEvent() {
        assertThrows(RuntimeException.class,
                () -> Order.decode("t", structured(), "not json".getBytes(StandardCharsets.UTF_8)));
        assertThrows(IllegalArgumentException.class, () -> Order.decode("t", structured(), null));
    }
}
