"""What a notebook user touches: the magics, streaming into cells, safe Markdown, the chat panel."""
