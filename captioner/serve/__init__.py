"""``captioner serve``: the captioning library behind the Ollama API and PhotoPrism's Vision API."""
