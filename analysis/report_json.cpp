#include "analysis/report_json.h"

#include "core/digest.h"
#include "core/text.h"

namespace shardlab::analysis {

Json summary_header(const std::string& study, const std::string& checkpoint, const std::string& seeds,
                    const std::string& protocol, const MazeCounts& counts) {
  Json j;
  j["study"] = study;
  if (!checkpoint.empty()) {
    const std::string bytes = read_text_file(checkpoint);
    j["checkpoint"] = checkpoint;
    j["checkpoint_sha256"] = sha256_hex(bytes.data(), bytes.size());
  }
  j["seeds"] = seeds;
  j["protocol"] = protocol;
  j["maze_counts"] = maze_counts_json(counts);
  j["shardlab_version"] = SHARDLAB_VERSION;
  return j;
}

}  // namespace shardlab::analysis
