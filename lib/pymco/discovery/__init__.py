"""Discovery methods: how the client learns which nodes a filter selects."""
