// `shardlab analyze vector-field`: the policy's arrows on every free cell, original / patched / difference.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agents/checkpoint.h"
#include "analysis/steering.h"
#include "analysis/study.h"
#include "analysis/vector_field.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "media/figure.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

int vector_field_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f("shardlab analyze vector-field RUN --seed S [--patch P ...] --svg OUT.svg");
  f.flags.add_options()("seed", po::value<int64_t>(), "maze seed")(
      "patch", po::value<std::vector<std::string>>()->composing(),
      "cheese-vector:LAYER:COEFF | top-right-vector:LAYER:COEFF | channel:LAYER:C:VALUE:X:Y | zero:LAYER:C1,C2 "
      "(repeatable)")("remove-cheese", "draw the maze without its cheese")(
      "all-cells", "an arrow on the cheese's cell too (procgen-tools leaves it out, and so does the default)")(
      "svg", po::value<std::string>(), "the picture to write (an SVG figure: panels, captions, legend)");
  auto s = open_study(schema, "vector-field", args, f, false);
  if (!s) return 0;
  if (!s->has("seed")) throw InputError("--seed S is required");
  if (!s->has("svg")) throw InputError("--svg OUT.svg is required");
  check_svg_path(s->str("svg"), "--svg");
  const int64_t seed = s->vm["seed"].as<int64_t>();
  if (seed < 0 || seed >= 2147483647) throw InputError("--seed " + std::to_string(seed) + ": not a level seed");
  s->claim({s->str("svg")});
  auto layout = s->p().level(static_cast<uint32_t>(seed));
  if (!layout)
    throw InputError("--seed " + std::to_string(seed) + ": maze outside " + s->p().maze_config().maze_size_limits());
  ActivationTaps taps;
  std::string patches;  // as given, for the picture's title
  if (s->has("patch"))
    for (const auto& p : s->vm["patch"].as<std::vector<std::string>>()) {
      add_patch_from_text(s->p(), *layout, p, taps);
      patches += (patches.empty() ? "" : ", ") + p;
    }
  if (s->has("remove-cheese")) *layout = without_cheese(*layout);
  const VectorFieldCells cells = s->has("all-cells") ? VectorFieldCells::kAllFree : VectorFieldCells::kReference;
  const VectorField original = vector_field(s->p(), *layout, nullptr, cells);
  if (s->has("patch")) {
    const VectorField patched = vector_field(s->p(), *layout, &taps, cells);
    draw_vector_fields(original, &patched, patches, s->str("svg"));
  } else {
    draw_vector_fields(original, nullptr, "", s->str("svg"));
  }
  std::cout << "wrote " << s->str("svg") << '\n';
  return 0;
}

}  // namespace shardlab::analysis
