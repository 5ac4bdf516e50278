import CloacinaTestSupport
import Testing

@Suite("Test environment")
struct TestEnvironmentTests {
    /// PostgreSQL tests are enabled by `CLOACINA_TEST_POSTGRES_URL`; under the test script (which also sets
    /// `CLOACINA_TEST_DROP_DIR`) they must never be skipped for want of it.
    @Test(
        "the test script provides a PostgreSQL server, so no PostgreSQL test is skipped",
        .enabled(if: TestEnvironment.variable("CLOACINA_TEST_DROP_DIR") != nil, "set by scripts/test.sh")
    )
    func postgresProvided() {
        #expect(TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL") != nil)
        #expect(TestEnvironment.variable("CLOACINA_TEST_POSTGRES_RESTART") != nil)
    }
}
