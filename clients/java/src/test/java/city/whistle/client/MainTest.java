package city.whistle.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class MainTest {
    @Test
    void onceReadsFromTheBeginningWithoutCommitting() {
        DepartmentClient.Options o = Main.parse(new String[] {"--bootstrap", "h:1", "--dept", "chengguan",
                "--secret", "s", "--once", "case-1"});
        assertEquals("java-dept-chengguan", o.group());
        assertEquals("case-1", o.onlyCase());
        assertEquals(1, o.max());
        assertTrue(o.fromBeginning());
        assertFalse(o.commit());
        assertEquals(Duration.ofSeconds(120), o.timeout());
    }

    @Test
    void maxCommitsAndRunsWithoutTimeoutByDefault() {
        DepartmentClient.Options o = Main.parse(new String[] {"--dept", "gongan", "--secret", "s", "--max", "3"});
        assertEquals(3, o.max());
        assertTrue(o.commit());
        assertFalse(o.fromBeginning());
        assertEquals(Duration.ZERO, o.timeout());
    }

    @Test
    void refusesBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--secret", "s"}));
        assertThrows(IllegalArgumentException.class,
                () -> Main.parse(new String[] {"--dept", "d", "--secret", "s", "--max", "0"}));
        assertThrows(IllegalArgumentException.class,
                () -> Main.parse(new String[] {"--dept", "d", "--secret", "s", "--once", "c", "--max", "2"}));
        assertThrows(IllegalArgumentException.class, () -> Main.parse(new String[] {"--dept", "d", "--bogus"}));
    }
}
