//! The model-based property test of the whole pipeline (see `fuzz_replay::Scenario`): random
//! scenarios of several VMs, bridges and VLANs, engine verdicts at both stages, random batch
//! sizes and worker counts; the frames out of every port must be exactly the model's, the
//! EVE output the same for one worker and several, and every frame out must have passed both
//! stages. A failure prints the scenario's bytes; `fuzz/regressions/pipeline_model/` keeps
//! them.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn the_pipeline_sends_what_the_model_sends(data in proptest::collection::vec(any::<u8>(), 8..3000)) {
        let s = fuzz_replay::Scenario::from_bytes(&data);
        if let Err(e) = fuzz_replay::check_pipeline(&s) {
            prop_assert!(false, "{e}\nbatch {} workers {} frames {}", s.batch_size, s.workers, s.arrivals.len());
        }
    }
}

/// Long scenarios with every worker count, so that batches of one worker span many of the
/// others' packets.
#[test]
fn long_scenarios_agree_for_every_worker_count() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for round in 0..12 {
        let data: Vec<u8> = (0..6000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut s = fuzz_replay::Scenario::from_bytes(&data);
        s.workers = 1 + round % 3;
        if let Err(e) = fuzz_replay::check_pipeline(&s) {
            panic!("round {round}: {e}");
        }
    }
}
