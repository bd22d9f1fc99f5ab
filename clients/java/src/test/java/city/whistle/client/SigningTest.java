package city.whistle.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SigningTest {
    /** Vector from the Python signer:
     * {@code whistle_common.signing.sign("dev-secret-chengguan", "1700000000", VALUE)}. */
    static final byte[] VALUE = "{\"specversion\":\"1.0\",\"data\":{\"result\":\"已清理占道摊点\"}}"
            .getBytes(StandardCharsets.UTF_8);
    static final String PYTHON_SIGNATURE =
            "c660fb560873f1288909e3b249e920db16297ef394ab08644aa4d4936dcd6c04";

    @Test
    void signatureMatchesThePythonSigner() {
        assertEquals(PYTHON_SIGNATURE, Signing.sign("dev-secret-chengguan", "1700000000", VALUE));
    }

    @Test
    void signatureDependsOnSecretTimestampAndEveryByte() {
        assertNotEquals(PYTHON_SIGNATURE, Signing.sign("dev-secret-gongan", "1700000000", VALUE));
        assertNotEquals(PYTHON_SIGNATURE, Signing.sign("dev-secret-chengguan", "1700000001", VALUE));
        byte[] changed = VALUE.clone();
        changed[changed.length - 3] ^= 1;
        assertNotEquals(PYTHON_SIGNATURE, Signing.sign("dev-secret-chengguan", "1700000000", changed));
    }

    @Test
    void headersCarryDeptTimestampAndSignature() {
        Map<String, String> headers = Signing.headers("chengguan", "dev-secret-chengguan", VALUE, 1700000000L);
        assertEquals(List.of("x-whistle-dept", "x-whistle-timestamp", "x-whistle-signature"),
                List.copyOf(headers.keySet()));
        assertEquals("chengguan", headers.get(Signing.SENDER_HEADER));
        assertEquals("1700000000", headers.get(Signing.TIMESTAMP_HEADER));
        assertEquals(PYTHON_SIGNATURE, headers.get(Signing.SIGNATURE_HEADER));
    }
}
