# @summary A collective name: letters, digits and `_`.
#
# It becomes part of the broker's exchange names (`<collective>_broadcast`, `<collective>_directed`).
type Pymco::Collective = Pattern[/\A[A-Za-z0-9_]+\z/]
