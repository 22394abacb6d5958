// Hdf5File: creating extendable datasets and appending rows to them.
#include <hdf5.h>

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/hdf5_internal.h"

namespace shardlab {

using namespace hdf5_internal;

Hdf5File::Impl::AppendTarget& Hdf5File::Impl::append_target(const std::string& dataset) {
  require_writable("append to " + quoted(normalized(dataset)));
  const std::string name = normalized(dataset);
  auto found = append_targets.find(name);
  if (found != append_targets.end()) return found->second;
  AppendTarget target;
  target.dataset = open_dataset(name);
  Id space(H5Dget_space(target.dataset.get()));
  Id type(H5Dget_type(target.dataset.get()));
  const std::vector<int64_t> dims = dimensions(space.get());
  if (dims.empty()) fail("dataset " + quoted(name) + " is scalar, cannot append rows", false);
  target.rows = dims[0];
  target.row_shape.assign(dims.begin() + 1, dims.end());
  target.row_size = element_count(target.row_shape);
  target.is_bool = is_bool_enum(type.get());
  return append_targets.emplace(name, std::move(target)).first->second;
}

template <typename T>
void Hdf5File::Impl::append(const std::string& dataset, const T* data, int64_t rows) {
  AppendTarget& target = append_target(dataset);
  const std::string name = normalized(dataset);
  if (rows < 0) fail("cannot append " + std::to_string(rows) + " rows to " + quoted(name), false);
  if (rows == 0) return;
  std::vector<hsize_t> dims{static_cast<hsize_t>(target.rows + rows)};
  for (int64_t d : target.row_shape) dims.push_back(static_cast<hsize_t>(d));
  if (H5Dset_extent(target.dataset.get(), dims.data()) < 0) fail("cannot extend dataset " + quoted(name));
  const int64_t first_row = target.rows;
  target.rows += rows;

  Id file_space(H5Dget_space(target.dataset.get()));
  std::vector<hsize_t> start(dims.size(), 0), count(dims);
  start[0] = static_cast<hsize_t>(first_row);
  count[0] = static_cast<hsize_t>(rows);
  const hsize_t values = static_cast<hsize_t>(rows * target.row_size);
  // The memory space has the selection's shape: with a flat one HDF5 maps every element to
  // its chunk one by one, several times slower.
  Id memory_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr));
  if (!file_space.ok() || !memory_space.ok() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0)
    fail("cannot select rows of dataset " + quoted(name));

  herr_t status;
  if (target.is_bool) {
    // The enum conversion rejects values other than 0 and 1, so normalise first.
    std::vector<int8_t> flags(values);
    for (hsize_t i = 0; i < values; ++i) flags[i] = data[i] != T(0) ? 1 : 0;
    Id bool_type = make_bool_type(H5T_NATIVE_INT8);
    status = H5Dwrite(target.dataset.get(), bool_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                      flags.data());
  } else {
    status = H5Dwrite(target.dataset.get(), memory_type<T>(), memory_space.get(), file_space.get(), H5P_DEFAULT, data);
  }
  if (status < 0) fail("cannot write " + std::to_string(rows) + " rows to dataset " + quoted(name));
}

namespace {

// The little-endian file type of a dataset of `type` (bool: HDF5's enum of FALSE and TRUE).
Id file_type_of(Hdf5Type type) {
  switch (type) {
    case Hdf5Type::kFloat32:
      return Id(H5Tcopy(H5T_IEEE_F32LE));
    case Hdf5Type::kFloat64:
      return Id(H5Tcopy(H5T_IEEE_F64LE));
    case Hdf5Type::kInt8:
      return Id(H5Tcopy(H5T_STD_I8LE));
    case Hdf5Type::kInt32:
      return Id(H5Tcopy(H5T_STD_I32LE));
    case Hdf5Type::kInt64:
      return Id(H5Tcopy(H5T_STD_I64LE));
    case Hdf5Type::kUint8:
      return Id(H5Tcopy(H5T_STD_U8LE));
    case Hdf5Type::kBool:
      return make_bool_type(H5T_STD_I8LE);
  }
  return Id();
}

}  // namespace

void Hdf5File::create_dataset(const std::string& dataset, Hdf5Type type, const std::vector<int64_t>& row_shape,
                              const Hdf5DatasetOptions& options) {
  quiet();
  Impl& m = impl();
  const std::string name = normalized(dataset);
  m.require_writable("create dataset " + quoted(name));
  if (name.empty()) m.fail("a dataset needs a name", false);
  if (m.link_exists(name)) m.fail("dataset " + quoted(name) + " already exists", false);
  for (int64_t d : row_shape)
    if (d <= 0)
      m.fail("dataset " + quoted(name) + ": row shape " + format_shape(row_shape) + " has a dimension < 1", false);
  if (options.gzip_level < 0 || options.gzip_level > 9)
    m.fail("dataset " + quoted(name) + ": gzip level " + std::to_string(options.gzip_level) + " not in 0..9", false);

  const Id file_type = file_type_of(type);
  if (!file_type.ok()) m.fail("cannot make the type of dataset " + quoted(name));
  const size_t element_size = H5Tget_size(file_type.get());

  const size_t rank = row_shape.size() + 1;
  std::vector<hsize_t> dims(rank, 0), max_dims(rank, H5S_UNLIMITED), chunk(rank);
  for (size_t i = 1; i < rank; ++i) dims[i] = max_dims[i] = static_cast<hsize_t>(row_shape[i - 1]);
  if (!options.chunk_shape.empty()) {
    bool fits = options.chunk_shape.size() == rank;
    for (size_t i = 0; fits && i < rank; ++i)
      fits = options.chunk_shape[i] >= 1 && (i == 0 || options.chunk_shape[i] <= row_shape[i - 1]);
    if (!fits)
      m.fail("dataset " + quoted(name) + ": chunk shape " + format_shape(options.chunk_shape) +
                 " does not fit rows of shape " + format_shape(row_shape),
             false);
    chunk.assign(options.chunk_shape.begin(), options.chunk_shape.end());
  } else {
    const int64_t row_bytes = element_count(row_shape) * static_cast<int64_t>(element_size);
    const int64_t rows = std::clamp<int64_t>(options.chunk_bytes / std::max<int64_t>(row_bytes, 1), 1, 1 << 20);
    chunk[0] = static_cast<hsize_t>(rows);
    for (size_t i = 1; i < rank; ++i) chunk[i] = dims[i];
  }
  double chunk_bytes = static_cast<double>(element_size);
  for (hsize_t c : chunk) chunk_bytes *= static_cast<double>(c);
  if (chunk_bytes >= 4294967295.0)
    m.fail("dataset " + quoted(name) + ": a chunk of " + format_number(chunk_bytes) +
               " bytes exceeds HDF5's 4 GiB limit; pass a smaller chunk_shape",
           false);

  Id space(H5Screate_simple(static_cast<int>(rank), dims.data(), max_dims.data()));
  Id dcpl = checksummed_creation(H5P_DATASET_CREATE);
  if (H5Pset_chunk(dcpl.get(), static_cast<int>(rank), chunk.data()) < 0)
    m.fail("cannot set the chunks of dataset " + quoted(name));
  if (options.gzip_level > 0) {
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) m.fail("this HDF5 library has no gzip filter", false);
    if (options.shuffle) H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options.gzip_level));
  }
  // A checksum of every chunk: a flipped byte in the data is a read error too.
  if (H5Pset_fletcher32(dcpl.get()) < 0) m.fail("cannot add checksums to dataset " + quoted(name));
  m.create_parents(name);
  // Room for the chunk being filled plus a few more, so appends never evict a partial chunk.
  Id dapl(H5Pcreate(H5P_DATASET_ACCESS));
  const size_t cache_bytes = std::max<size_t>(1 << 20, static_cast<size_t>(4 * chunk_bytes));
  H5Pset_chunk_cache(dapl.get(), 521, cache_bytes, 1.0);

  Impl::AppendTarget target;
  target.dataset =
      Id(H5Dcreate2(m.id(), name.c_str(), file_type.get(), space.get(), H5P_DEFAULT, dcpl.get(), dapl.get()));
  if (!target.dataset.ok()) m.fail("cannot create dataset " + quoted(name));
  target.row_shape = row_shape;
  target.row_size = element_count(row_shape);
  target.is_bool = type == Hdf5Type::kBool;
  m.append_targets[name] = std::move(target);
}

template <typename T>
void Hdf5File::append(const std::string& dataset, const T* data, int64_t rows) {
  quiet();
  impl().append(dataset, data, rows);
}

template <typename T>
void Hdf5File::append(const std::string& dataset, const std::vector<T>& data) {
  quiet();
  Impl& m = impl();
  const Impl::AppendTarget& target = m.append_target(dataset);
  const int64_t row_size = std::max<int64_t>(target.row_size, 1);
  if (static_cast<int64_t>(data.size()) % row_size != 0)
    m.fail("cannot append " + std::to_string(data.size()) + " values to dataset " + quoted(normalized(dataset)) +
               ": not a whole number of rows of " + std::to_string(row_size),
           false);
  m.append(dataset, data.data(), static_cast<int64_t>(data.size()) / row_size);
}

#define SHARDLAB_HDF5_ELEMENT(T)                                            \
  template void Hdf5File::append<T>(const std::string&, const T*, int64_t); \
  template void Hdf5File::append<T>(const std::string&, const std::vector<T>&);
SHARDLAB_HDF5_ELEMENT(float)
SHARDLAB_HDF5_ELEMENT(double)
SHARDLAB_HDF5_ELEMENT(int8_t)
SHARDLAB_HDF5_ELEMENT(uint8_t)
SHARDLAB_HDF5_ELEMENT(int32_t)
SHARDLAB_HDF5_ELEMENT(int64_t)
#undef SHARDLAB_HDF5_ELEMENT

}  // namespace shardlab
