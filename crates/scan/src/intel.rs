pub struct IntelSet;
pub struct IntelSetBuilder;
pub struct IntelHit;
pub struct IntelLoadReport;
