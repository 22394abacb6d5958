// The registry of the maze studies: one line each. A new study is a file analysis/study_NAME.cpp
// defining NAME_study and one line here (its declaration and its row).
#include <algorithm>
#include <iostream>

#include "analysis/study.h"

namespace shardlab::analysis {

int record_study(const std::vector<std::string>& args, const SpecSchema& schema);
int cheese_vector_study(const std::vector<std::string>& args, const SpecSchema& schema);
int top_right_vector_study(const std::vector<std::string>& args, const SpecSchema& schema);
int vector_field_study(const std::vector<std::string>& args, const SpecSchema& schema);
int channels_study(const std::vector<std::string>& args, const SpecSchema& schema);
int resample_study(const std::vector<std::string>& args, const SpecSchema& schema);
int retarget_study(const std::vector<std::string>& args, const SpecSchema& schema);
int behaviour_study(const std::vector<std::string>& args, const SpecSchema& schema);
int steering_compare_study(const std::vector<std::string>& args, const SpecSchema& schema);
int layer_sweep_study(const std::vector<std::string>& args, const SpecSchema& schema);
int pushes_study(const std::vector<std::string>& args, const SpecSchema& schema);
int milestones_study(const std::vector<std::string>& args, const SpecSchema& schema);

const std::vector<StudyCommand>& study_commands() {
  static const std::vector<StudyCommand> studies = {
      {"record", "record activations on a range of mazes into an HDF5 activation log", "a run or checkpoint",
       "--out FILE.h5", record_study},
      {"cheese-vector", "steer with the cheese vector: P(cheese | decision square) before and after",
       "a run or checkpoint", "cheese_vector.csv, cheese_vector_summary.json", cheese_vector_study},
      {"top-right-vector", "steer with the top-right vector (optionally composed with the cheese vector)",
       "a run or checkpoint", "top_right_vector.csv, top_right_vector_summary.json", top_right_vector_study},
      {"vector-field", "the policy's arrows on every free cell, original / patched / difference", "a run or checkpoint",
       "--svg FILE.svg", vector_field_study},
      {"channels", "rank a layer's channels by how well they track the cheese", "a run or checkpoint",
       "channels.csv, channels_summary.json, channels_top.svg", channels_study},
      {"resample", "zero / mean / resample a channel set vs random sets of the same size", "a run or checkpoint",
       "resample.json", resample_study},
      {"retarget", "remove the cheese, set channels at a target, measure the path probability", "a run or checkpoint",
       "retarget.csv, retarget_summary.json, retarget.svg (reference: retarget_reference.csv, _summary.json)",
       retarget_study},
      {"behaviour", "logistic regression of \"gets the cheese\" on decision-square features", "a run or checkpoint",
       "behaviour_reference.json, behaviour_reference.csv (ours: behaviour.json)", behaviour_study},
      {"steering-compare",
       "one-pair vs mean-difference vs probe directions: fit, validation and test splits, a random null, paired tests",
       "a run or checkpoint", "steering_compare.csv, steering_compare.json, steering_compare.svg",
       steering_compare_study},
      {"layer-sweep", "which layer steers: RMS-scaled cheese vector vs deleting the cheese vs random",
       "a run or checkpoint", "layer_sweep.csv, layer_sweep.json, layer_sweep.svg", layer_sweep_study},
      {"pushes", "each channel's push toward the cheese or the top-right path at the decision square",
       "a run or checkpoint", "pushes.csv, pushes.json, pushes.svg", pushes_study},
      {"milestones", "over a run's milestone checkpoints: when behaviour and cheese structure appear",
       "a run folder with milestones/", "milestones.csv, milestones.json, milestones.svg", milestones_study},
  };
  return studies;
}

const StudyCommand& find_study(const std::string& name) {
  for (const StudyCommand& s : study_commands())
    if (s.name == name) return s;
  throw InputError("unknown study '" + name + "' (`shardlab analyze --help` lists them)");
}

std::string analyze_usage() {
  std::string text = "usage: shardlab analyze STUDY RUN_DIR|CHECKPOINT [flags]\n\nstudies (each takes --help):\n";
  for (const StudyCommand& s : study_commands()) {
    std::string name = "  " + s.name;
    name.resize(std::max<size_t>(name.size() + 1, 21), ' ');
    text += name + s.summary + "\n" + std::string(21, ' ') + "reads " + s.reads + "; writes " + s.writes + "\n";
  }
  text +=
      "\nMazes come from the run's own spec with env.placement=uniform unless --set says otherwise;\n"
      "mazes outside the run's env.min_maze_size..env.max_maze_size are left out, and every summary counts them\n"
      "(\"maze_counts\"). Results go to --out (default RUN_DIR/analysis/).\n\n"
      "behaviour, resample and retarget measure published quantities and take --protocol reference|ours\n"
      "(default reference): the reference's protocol as procgen-tools runs it, or our earlier variant.\n";
  return text;
}

}  // namespace shardlab::analysis
