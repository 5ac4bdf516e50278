// An example workflow package showing retries, a cleanup task run by a trigger rule, and a task that runs only
// when a context value holds.
//
//                         ┌─> charge_card (retried) ─┬─> ship
//   reserve_stock ────────┤                          └─> release_stock (only if charge_card failed)
//                         └─> gift_wrap (only if "gift" is true)
//
// charge_card fails its first attempt with a retryable error (the gateway is "busy") and succeeds on the second,
// unless the input says "card": "declined", in which case it fails for good: ship is skipped and release_stock
// runs to undo the reservation. The execution then ends Failed, as any execution with a failed task does.
import CloacinaSDK

let orders = WorkflowPackage(name: "orders", version: "1.0.0") {
    Workflow(
        "process_order",
        description: "Reserve stock, charge (with retries), ship; release stock if charging fails"
    ) {
        WorkflowTask("reserve_stock", description: "Reserve the ordered items") { ctx in
            let items = (ctx["items"]?.intValue).map { max($0, 1) } ?? 1
            ctx["reserved"] = .int(items)
        }

        WorkflowTask(
            "charge_card",
            dependsOn: "reserve_stock",
            retry: RetryPolicy(
                maxAttempts: 3,
                backoff: .exponential(multiplier: 2),
                condition: .retryableOnly,
                initialDelay: .milliseconds(50),
                maxDelay: .seconds(1),
                jitterPercent: 10
            ),
            description: "Charge the card; the gateway is busy on the first attempt"
        ) { ctx in
            // Stored with the attempt: `cloacina executions logs ID --task charge_card`.
            ctx.log("charging \(ctx["reserved"]?.intValue ?? 0) items, attempt \(ctx.attempt)")
            if ctx["card"]?.stringValue == "declined" { throw TaskFailure.failed("card declined") }
            guard ctx.attempt > 1 else {
                ctx.log("the payment gateway is busy", level: .warning)
                throw TaskFailure.retryable("payment gateway busy, try again")
            }
            ctx["charged"] = true
            ctx["charge_attempts"] = .int(ctx.attempt)
        }

        WorkflowTask("ship", dependsOn: "charge_card", description: "Hand the parcel to the carrier") { ctx in
            ctx["shipped"] = true
        }

        WorkflowTask(
            "release_stock",
            dependsOn: "charge_card",
            trigger: .any([.taskFailed("charge_card")]),
            description: "Cleanup: undo the reservation when charging failed"
        ) { ctx in
            ctx["reserved"] = 0
            ctx["released"] = true
        }

        WorkflowTask(
            "gift_wrap",
            dependsOn: "reserve_stock",
            trigger: .all([.contextValue(key: "gift", operator: .equals, value: true)]),
            description: "Wrap the items, only for gifts"
        ) { ctx in
            ctx["wrapped"] = true
        }
    }
}

@c(cloacina_swift_package) func cloacinaSwiftPackage() -> UnsafeRawPointer { orders.exported }
