import Support
import Testing

@Suite("Duration units", .timeLimit(.minutes(2)))
struct DurationUnitsTests {
    @Test("milliseconds and nanoseconds truncate toward zero")
    func truncation() {
        #expect(Duration.seconds(2).milliseconds == 2_000)
        #expect(Duration.milliseconds(1_500).milliseconds == 1_500)
        #expect(Duration.microseconds(1_999).milliseconds == 1)
        #expect(Duration.microseconds(-1_999).milliseconds == -1)
        #expect(Duration.nanoseconds(999_999).milliseconds == 0)
        #expect(Duration.seconds(2).nanoseconds == 2_000_000_000)
        #expect((Duration.seconds(1) + .nanoseconds(7)).nanoseconds == 1_000_000_007)
        #expect(Duration.seconds(-1.5).nanoseconds == -1_500_000_000)
        #expect(Duration(secondsComponent: 0, attosecondsComponent: 999_999_999).nanoseconds == 0)
        #expect(Duration.zero.milliseconds == 0 && Duration.zero.nanoseconds == 0)
    }

    @Test("durations beyond Int64 saturate instead of trapping")
    func saturation() {
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
        #expect(Duration.seconds(Int64.max).milliseconds == .max)
        #expect(Duration.seconds(Int64.min).nanoseconds == .min)
        #expect(Duration.seconds(10_000_000_000).nanoseconds == .max)
    }

    @Test("seconds as a Double")
    func seconds() {
        #expect(Duration.milliseconds(1_500).seconds == 1.5)
        #expect(Duration.milliseconds(-250).seconds == -0.25)
        #expect(Duration.zero.seconds == 0)
        #expect(abs(Duration.nanoseconds(1).seconds - 1e-9) < 1e-18)
    }
}
